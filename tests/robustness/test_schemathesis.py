"""schemathesis against the live server: no 5xx, no answer outside the schema, no unexpected status.

The command it runs is the one docs/robustness.md gives for a run by hand; the number of
examples per operation and the seed come from ROBUSTNESS_MAX_EXAMPLES and ROBUSTNESS_SEED.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from tests.robustness.live_server import PROJECT_DIR, LiveServer

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
MAX_EXAMPLES = os.environ.get("ROBUSTNESS_MAX_EXAMPLES", "25")
SEED = os.environ.get("ROBUSTNESS_SEED", "20261126")
TIME_LIMIT_SECONDS = 240


def schemathesis_command(base_url: str, report_dir: Path) -> list[str]:
    return [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/api/schema/",
        "--url",
        base_url,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]


def _schemathesis_finds_nothing(server: LiveServer, report_dir: Path) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed command line of our own
        schemathesis_command(server.base_url, report_dir),
        cwd=PROJECT_DIR,
        env={**os.environ, "ROBUSTNESS_BASE_URL": server.base_url},
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_SECONDS,
        check=False,
    )
    report = result.stdout[-20_000:] + result.stderr[-5_000:]
    assert result.returncode == 0, report

    (junit,) = report_dir.glob("junit-*.xml")
    suite = ElementTree.parse(junit).getroot()  # noqa: S314 - the report schemathesis just wrote
    operations = {case.get("name") for case in suite.iter("testcase")}
    schema = server.request("GET", "/api/schema/", params={"format": "json"}).json()
    documented = {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}
    assert operations == documented, "every operation of the schema was tested"
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0"), report
    assert "Internal Server Error" not in server.log(), server.log()[-10_000:]


def test_schemathesis_finds_nothing(live_api: LiveServer, tmp_path: Path) -> None:
    _schemathesis_finds_nothing(live_api, tmp_path)


def test_schemathesis_finds_nothing_under_debug(live_api_debug: LiveServer, tmp_path: Path) -> None:
    """Under DEBUG (`make run`), where Django answers unmatched paths with its technical HTML page."""
    assert live_api_debug.request("GET", "/auth/nothing-here").json()["code"] == "not_found"
    _schemathesis_finds_nothing(live_api_debug, tmp_path)
