"""Translation files: extract, compile and check them without GNU gettext at run time.

    python scripts/translations.py extract   # makemessages (needs GNU gettext's xgettext)
    python scripts/translations.py compile   # .po -> .mo with polib (pure Python)
    python scripts/translations.py check     # fails on a message left untranslated or fuzzy,
                                             # or a committed .mo that is not its .po compiled

The compiled `.mo` files are committed, so `make run` needs nothing beyond the venv. `check`
extracts first when xgettext is installed (CI installs it), so a new message in the code
that nobody translated fails the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale"
LANGUAGES = ["es"]
IGNORED = [".venv", "tests", "bench", "staticfiles", "var", "node_modules"]


def _catalogues() -> list[Path]:
    return [LOCALE / language / "LC_MESSAGES" / "django.po" for language in LANGUAGES]


def extract() -> None:
    command = [sys.executable, "manage.py", "makemessages", "--no-location", "--no-obsolete"]
    command += [f"--locale={language}" for language in LANGUAGES]
    command += [f"--ignore={path}" for path in IGNORED]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 - our own manage.py


def compile_catalogues() -> None:
    for po_path in _catalogues():
        polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))


def _problems(po_path: Path) -> list[str]:
    catalogue = polib.pofile(str(po_path))
    problems = [f"untranslated: {entry.msgid!r}" for entry in catalogue.untranslated_entries()]
    problems += [f"fuzzy: {entry.msgid!r}" for entry in catalogue.fuzzy_entries()]
    compiled = polib.mofile(str(po_path.with_suffix(".mo")))
    expected = {
        (entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural
        for entry in catalogue.translated_entries()
    }
    found = {
        (entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural for entry in compiled if entry.msgid
    }
    if found != expected:
        problems.append(
            f"{po_path.with_suffix('.mo').relative_to(ROOT)} is not {po_path.name} compiled: run `make messages`"
        )
    return problems


def check() -> int:
    if shutil.which("xgettext"):
        with tempfile.TemporaryDirectory() as saved:
            backup = Path(saved) / "locale"
            shutil.copytree(LOCALE, backup)
            extract()
            problems = [problem for po_path in _catalogues() for problem in _problems(po_path)]
            shutil.rmtree(LOCALE)
            shutil.copytree(backup, LOCALE)  # the check leaves the tree as it found it
    else:
        print("GNU gettext is not installed: checking the committed catalogues only (CI extracts too)")
        problems = [problem for po_path in _catalogues() for problem in _problems(po_path)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "check"
    if action == "extract":
        extract()
    elif action == "compile":
        compile_catalogues()
    elif action == "check":
        sys.exit(check())
    else:
        sys.exit(__doc__)
