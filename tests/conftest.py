"""Shared fixtures: paths of the book and the parsed table of contents."""

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# In CI the property tests draw the same examples every run (derandomize), so a red
# build always reproduces; locally they explore new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"


def article_html(path: Path) -> str:
    """The HTML of a built page's article (the book's text, without the theme's frame)."""
    page = path.read_text(encoding="utf-8")
    start = page.index('<article class="bd-article">')
    return page[start : page.index("</article>", start)]


def toc_files() -> list[str]:
    """Every file named in _toc.yml (without suffix), root first, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


@pytest.fixture(scope="session")
def built_html() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: build the book first (`make book`; `make test` does it).")
    return HTML
