"""Markdown tables of results, and replacing a generated section of docs/benchmarks.md in place."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

DOCS_FILE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def section_replace(name: str, content: str, docs_file: Path = DOCS_FILE) -> None:
    """Put `content` between the `<!-- name:start -->` and `<!-- name:end -->` markers.

    The hand-written analysis around the markers stays; a missing section is appended.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{content.strip()}\n{end}"
    text = docs_file.read_text() if docs_file.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    docs_file.parent.mkdir(parents=True, exist_ok=True)
    docs_file.write_text(text)
