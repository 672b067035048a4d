"""The PDF of the whole book (`make pdf`, tools/build_pdf.py) and the landing page's downloads.

The PDF has a sensible number of pages, every page of the table of contents with its
title where its bookmark points, maths typeset (no TeX source outside the code that the
chapters print), every figure of the built HTML embedded, and internal links that all
land on a destination. Needs `make pdf` (`make test` runs it); reads the PDF with pypdf.
"""

import functools
import html
import json
import re
import unicodedata
import zipfile
from urllib.parse import urlsplit

import pypdf
import pytest

from conftest import HTML, ROOT, article_html, toc_files

PDF = ROOT / "_build" / "pdf" / "mlnotes.pdf"
PAGES = toc_files()

# TeX that MathJax did not typeset: Sphinx writes inline maths as \(..\), display maths
# as \[..\] or \begin{..}; a MyST source that slipped through keeps its $$.
RAW_TEX = re.compile(r"\$\$|\\frac|\\begin\{|\\\(|\\\[")


def _norm(text: str) -> str:
    """NFKC (the PDF's ligatures: ﬁ -> fi) and single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


@pytest.fixture(scope="module")
def reader(built_html):
    if not PDF.exists():
        pytest.fail(f"{PDF.relative_to(ROOT)} is missing: run `make pdf` (`make test` does it).")
    newest_page = max((built_html / f"{p}.html").stat().st_mtime for p in PAGES)
    if PDF.stat().st_mtime < newest_page:
        pytest.fail("the PDF is older than the built book: run `make pdf` again.")
    return pypdf.PdfReader(PDF)


@pytest.fixture(scope="module")
def texts(reader) -> list[str]:
    return [_norm(page.extract_text() or "") for page in reader.pages]


@functools.cache
def _article(name: str) -> str:
    return article_html(HTML / f"{name}.html")


def _title(name: str) -> str:
    h1 = re.search(r"<h1>(.*?)</h1>", _article(name), re.S).group(1)
    h1 = re.sub(r'<a class="headerlink".*?</a>', "", h1)
    return _norm(html.unescape(re.sub(r"<[^>]+>", "", h1)))


def _figures() -> set[str]:
    """The distinct images that the pages of the book show (plots, diagrams)."""
    return {
        src.split("/")[-1]
        for name in PAGES
        for src in re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', _article(name))
    }


def _outline(reader) -> list[tuple[str, int]]:
    flat = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                flat.append((_norm(item.title), reader.get_destination_page_number(item)))

    walk(reader.outline)
    return flat


def test_page_count_is_sensible(reader, texts):
    n = len(reader.pages)
    # A title page, a contents page, then every page of the book on pages of its own.
    assert n >= len(PAGES) + 2, f"{n} pages for {len(PAGES)} pages of the book"
    # The text of the HTML book fits on no fewer than one A4 page per 6000 characters
    # (a full page of prose holds about 4000); a runaway layout gives hundreds more.
    chars = sum(len(_norm(re.sub(r"<[^>]+>", " ", _article(p)))) for p in PAGES)
    assert chars / 6000 <= n <= 400, f"{n} pages for {chars} characters of text"
    assert sum(len(t) for t in texts) > 0.5 * chars, "the PDF holds much less text than the book"


def test_every_page_of_the_book_is_bookmarked_at_its_title(reader, texts):
    outline = dict(_outline(reader))
    assert "Contents" in outline and "Contents" in texts[outline["Contents"]]
    for name in PAGES:
        title = _title(name)
        assert title in outline, f"no bookmark for {name} ({title!r}): {list(outline)[:20]}"
        assert title in texts[outline[title]], f"{title!r} is not on page {outline[title] + 1}"


def test_contents_page_lists_every_chapter_with_its_page_number(reader, texts):
    outline = dict(_outline(reader))
    contents = " ".join(texts[1:4])
    for name in PAGES:
        title = _title(name)
        assert f"{title} {outline[title] + 1}" in contents, f"contents: no '{title} <page>'"


def _loose(text: str) -> str:
    """A pattern for text however the PDF's lines broke it ("mini-\\nbatch")."""
    return r"\s*".join(re.escape(c) for c in re.sub(r"\s", "", text))


def _headings(name: str) -> list[str]:
    """The page's title, and the titles of a numbered chapter's sections (as in the
    contents); titles with maths are left out (their glyphs come out of the PDF's text
    elsewhere on the line)."""
    found = [_title(name)]
    if re.match(r"chapters/\d\d_", name):
        for h2 in re.findall(r"<h2>(.*?)</h2>", _article(name), re.S):
            if "math" not in h2:
                h2 = re.sub(r'<a class="headerlink".*?</a>', "", h2)
                found.append(_norm(html.unescape(re.sub(r"<[^>]+>", "", h2))))
    return found


def test_contents_page_numbers_are_where_the_titles_are(reader, texts):
    """The page number the contents gives each chapter and section is the page on which
    its title is printed (read from the PDF's text, not from its bookmarks: the numbers
    were once taken from a print whose layout differed from the final one by a page)."""
    outline = dict(_outline(reader))
    start, end = outline["Contents"], outline[_title(PAGES[0])]  # the contents' pages
    contents = " ".join(texts[start:end])
    pages = [re.sub(r"\s", "", t) for t in texts]
    wrong, checked = [], 0
    for name in PAGES:
        for title in _headings(name):
            m = re.search(_loose(title) + r"\s+(\d+)(?!\d)", contents)
            assert m, f"the contents do not list {title!r} with a page number"
            number, checked = int(m.group(1)), checked + 1
            where = [
                i + 1 for i, t in enumerate(pages) if i >= end and re.sub(r"\s", "", title) in t
            ]
            if number not in where:
                wrong.append(f"{title!r}: contents say {number}, printed on {where[:3]}")
    assert checked > len(PAGES), "no section of a numbered chapter was checked"
    assert not wrong, "contents page numbers that are not where the titles are: " + "; ".join(wrong)


def test_maths_is_typeset_not_tex(texts):
    """TeX in the PDF's text only where the chapters' code (printed verbatim) has it."""
    allowed = 0
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                shown = "".join(cell["source"])
                for out in cell.get("outputs", []):
                    shown += "".join(out.get("text", "")) + "".join(
                        out.get("data", {}).get("text/plain", "")
                    )
                allowed += len(RAW_TEX.findall(shown))
    found = [(i + 1, m.group()) for i, t in enumerate(texts) for m in RAW_TEX.finditer(t)]
    assert len(found) <= allowed, f"raw TeX in the PDF (page, match): {found[:10]}"


def test_no_site_chrome_and_nothing_left_folded(texts):
    """Print shows the book, not the web page around it, and opens what a click would."""
    chrome = re.compile(
        r"Ctrl \+ K|Skip to main content|Back to top|Toggle navigation|Show code cell"
        r"|Click to show|Download this page|Print to PDF"
    )
    found = [(i + 1, m.group()) for i, t in enumerate(texts) for m in chrome.finditer(t)]
    assert not found, f"web page chrome in the PDF (page, text): {found[:10]}"
    assert any("Solution to Exercise" in t for t in texts), "the exercise solutions are missing"


def test_every_figure_is_embedded(reader):
    seen, images = set(), 0

    def count(resources):
        nonlocal images
        xobjects = (resources or {}).get("/XObject") or {}
        for ref in xobjects.values():
            key = getattr(ref, "idnum", id(ref))
            if key in seen:
                continue
            seen.add(key)
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                images += 1
            elif obj.get("/Subtype") == "/Form":
                count(obj.get("/Resources"))

    for page in reader.pages:
        count(page.get("/Resources"))
    figures = _figures()
    assert figures, "the built book shows no figures"
    assert images >= len(figures), f"{images} images in the PDF, {len(figures)} figures in the book"


def test_internal_links_land_on_destinations(reader):
    names = set(reader.named_destinations)
    links, dangling = 0, []
    for number, page in enumerate(reader.pages, 1):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link" or "/Dest" not in annot:
                continue
            links += 1
            dest = annot["/Dest"]
            if isinstance(dest, str) and dest not in names and dest.lstrip("/") not in names:
                dangling.append((number, dest))
    # Cross-references, citations, the contents page: hundreds of them.
    assert links > 100, f"only {links} internal links"
    assert not dangling, f"links to missing destinations (page, name): {dangling[:10]}"


def test_landing_page_downloads_exist(built_html):
    """The PDF and the zips that the landing page links to are in the built site."""
    hrefs = {
        urlsplit(h).path
        for h in re.findall(r'<a\b[^>]*\bhref="([^"#]+)"', _article("intro"))
        if not re.match(r"^[a-z]+:", h) and not h.endswith(".html")
    }
    assert {"mlnotes.pdf", "mlnotes-html.zip", "mlnotes-notebooks.zip"} <= hrefs, hrefs
    for href in hrefs:
        assert (built_html / href).is_file(), (
            f"intro links {href}, missing from _build/html: make pdf"
        )
    assert (built_html / "mlnotes.pdf").read_bytes() == PDF.read_bytes(), "stale copy: make pdf"
    with zipfile.ZipFile(built_html / "mlnotes-html.zip") as zf:
        assert "mlnotes-html/index.html" in zf.namelist()
    with zipfile.ZipFile(built_html / "mlnotes-notebooks.zip") as zf:
        names = set(zf.namelist())
    needed = {
        f"mlnotes-notebooks/{p.relative_to(ROOT).as_posix()}"
        for p in (ROOT / "chapters").glob("*.ipynb")
    }
    needed |= {
        f"mlnotes-notebooks/{f}"
        for f in ("requirements.txt", "pyproject.toml", "mlnotes/__init__.py")
    }
    assert needed <= names, f"the notebooks zip lacks {sorted(needed - names)}"
    assert any(n.startswith("mlnotes-notebooks/mlnotes/data/") for n in names), "no data sets"
