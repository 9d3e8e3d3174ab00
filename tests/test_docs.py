"""Run every ```python example in docs/*.md, page by page, so the documentation stays true.

Blocks on one page share a namespace and run in order, like a reader pasting them into one
session. A block preceded by a line ``<!-- skip -->`` is not run. The docs use that mark only
for examples that need the command line or a file the reader supplies.
"""

import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SKIP_MARK = "<!-- skip -->"


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """Return (first line number, source) of each python block that is not marked skip."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        preceding = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        if preceding == SKIP_MARK:
            continue
        line = text.count("\n", 0, match.start()) + 2
        blocks.append((line, match.group(1)))
    return blocks


PAGES = sorted(DOCS.glob("*.md"))


def test_docs_pages_found():
    assert PAGES, f"no Markdown pages under {DOCS}"


def test_skip_mark_detected(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\n\n<!-- skip -->\n```python\nraise SystemExit\n```\n", encoding="utf-8")
    assert python_blocks(page) == [(2, "x = 1\n")]


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_docs_examples_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    if not blocks:
        pytest.skip(f"{page.name} has no python examples")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Examples that save files write them into a fresh directory.
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    try:
        for line, source in blocks:
            # Leading newlines make tracebacks point at the line in the Markdown file.
            code = compile("\n" * (line - 1) + source, str(page), "exec")
            try:
                exec(code, namespace)
            except Exception as error:
                pytest.fail(f"the example at {page.name} line {line} raised {type(error).__name__}: {error}")
    finally:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")


def test_api_reference_lists_public_names():
    import lognet
    import lognet.datasets
    import lognet.functional

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,3} `([\w.]+)`", text, re.MULTILINE))
    expected = {f"lognet.{name}" for name in lognet.__all__ if name not in ("functional", "datasets", "plots")}
    expected |= {f"lognet.functional.{name}" for name in lognet.functional.__all__}
    expected |= {f"lognet.datasets.{name}" for name in lognet.datasets.__all__}
    expected |= {f"lognet.plots.{name}" for name in lognet.plots.__all__}
    missing = sorted(expected - headings)
    assert missing == []
