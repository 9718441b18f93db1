"""English and Spanish names of the regions libphonenumber supports, for the phone form's country list.

Copied from libphonenumber's `phonenumbers.geodata.locale` into `region_names.json`
(tests/otp/test_region_names.py checks it still matches): importing that module loads the
whole geocoding package, about 100 MB in every worker, for some 250 names.
"""

from __future__ import annotations

import json
from pathlib import Path

_NAMES = json.loads((Path(__file__).with_name("region_names.json")).read_text(encoding="utf-8"))
REGION_NAMES: dict[str, str] = _NAMES["en"]
REGION_NAMES_ES: dict[str, str] = _NAMES["es"]
