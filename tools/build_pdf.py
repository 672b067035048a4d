"""Print the built HTML book to one PDF: _build/pdf/mlnotes.pdf (`make pdf`).

The pages of _build/html (built by `make book`) are joined, in the order of _toc.yml,
into one print document: a title page, a contents page with page numbers, then every
page of the book, each chapter starting on a new page. Headless Chromium (Debian's,
driven by Playwright, as in the browser test) loads it from a local server, MathJax
typesets the maths (the equation numbers are Sphinx's, as on the web pages), tables and
equations wider than the page are scaled to fit, and Chromium prints it, with the page
number in the footer, twice: the first print tells on which page each heading lands,
the second carries those numbers on the contents page and is checked to show the pages
on which its own headings landed (each print from a freshly loaded page: see print_pdf). pypdf then adds the bookmarks
(parts, pages, sections). Because the book is one document, every cross-reference (an
equation, a section, a citation, another chapter) is a link inside the PDF.

What the web pages hide behind a click is printed open (exercise solutions, dropdowns);
code cells that a chapter hides (``hide-input``) stay hidden, their outputs shown. The
site chrome (header, sidebars, buttons, previous/next footer) is not printed: only each
page's article is taken, and print CSS hides whatever remains of the theme.

Usage: python tools/build_pdf.py [--html _build/html] [--out _build/pdf/mlnotes.pdf]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import functools
import io
import logging
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag
from pypdf import PdfReader, PdfWriter
from pypdf.generic import Fit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from chromium import CHROMIUM, CHROMIUM_ARGS, serve  # the browser test's Chromium, flags, server

ROOT = Path(__file__).resolve().parent.parent

MAX_PRINTS = 4  # prints to get the contents' page numbers right (2 are enough)
PLACEHOLDER = "000"  # a page number before the first print; its box has a fixed width
PRINT_PATH = "/__print__/mlnotes.html"  # served from memory, never written to _build/html
GLYPHS = {"✅": "✔", "❌": "✘"}  # emoji the print fonts lack -> DejaVu's marks

PRINT_CSS = """
@page { size: A4; margin: 16mm 15mm 16mm 15mm; }  /* PRINT_WIDTH follows the side margins */
html, body { background: #fff !important; }
html { font-size: 14px; }
/* Site chrome: nothing of it is copied into the print document; hide it anyway. */
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary,
.prev-next-footer, .bd-footer, .bd-footer-article, .bd-footer-content, .header-article-items,
.article-header-buttons, .headerlink, .toggle-button, .copybtn, .skip-link,
#pst-back-to-top, .search-button__wrapper, .theme-switch-button, .sidebar-toggle { display: none !important; }
.bd-container, .bd-container__inner, .bd-page-width, .bd-main, .bd-main .bd-content,
.bd-article-container, .bd-article { display: block !important; max-width: none !important;
  width: auto !important; margin: 0 !important; padding: 0 !important; overflow: visible !important; }
/* Every page of the book starts a new printed page; the title page stands alone. */
.pdf-page { break-before: page; }
.pdf-title { height: 250mm; display: flex; flex-direction: column; justify-content: center;
  text-align: center; }
.pdf-title h1 { font-size: 3.2rem; margin-bottom: 1rem; }
.pdf-title .pdf-subtitle { font-size: 1.4rem; color: #444; }
.pdf-title .pdf-meta { margin-top: 3rem; color: #555; }
.pdf-title .pdf-to-contents { margin-top: 2rem; }
.pdf-contents { break-before: page; }
.pdf-contents ol { list-style: none; padding-left: 0; }
.pdf-contents ol ol { padding-left: 1.6em; }
.pdf-contents li { margin: 0.15em 0; }
.pdf-contents .pdf-part { font-weight: 600; margin-top: 0.9em; }
.pdf-contents a { display: flex; color: inherit !important; text-decoration: none !important; }
.pdf-contents a .pdf-leader { flex: 1; border-bottom: 1px dotted #999; margin: 0 0.4em 0.3em; }
/* A page number's box does not depend on its digits: filling the numbers in after the
   first print cannot rewrap a line of the contents (and so move every page after it). */
.pdf-contents a .pdf-pageno { flex: none; width: 3.5ch; text-align: right;
  white-space: nowrap; font-variant-numeric: tabular-nums; }
.pdf-contents li.pdf-chapter > a { font-weight: 600; }
/* The theme hides the first h1 of each section in print (it prints its own title). */
.bd-main .bd-content .bd-article h1 { display: block !important; }
h1, h2, h3, h4, .admonition-title { break-after: avoid; }
figure, img, div.math, mjx-container[display="true"], .cell_output, tr,
.admonition-title + p { break-inside: avoid; }
img { max-width: 100% !important; height: auto !important; }
/* Code and its output wrap instead of running off the page. */
pre, .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere;
  max-height: none !important; overflow: visible !important; }
div.cell_output, div.output, .highlight { overflow: visible !important; }
/* The theme keeps a code block on one page (a long one leaves an empty box behind). */
.cell_input, div.highlight, div[class^="highlight-"] { display: block !important;
  break-inside: auto !important; }
mjx-container[display="true"] { overflow: visible !important; }
.pst-scrollable-table-container, .table-wrapper { overflow: visible !important; }
a { text-decoration: none; }
"""


# The width of A4 less the margins of @page, in CSS pixels: the print layout's width.
PRINT_WIDTH = round((210 - 2 * 15) / 25.4 * 96)

FIT_JS = """() => {
  const width = document.querySelector('article.bd-article').clientWidth;
  const scaled = [];
  document.querySelectorAll(
    'article table, article mjx-container[display="true"], article .cell_output img'
  ).forEach(e => {
    const wide = Math.max(e.scrollWidth, e.getBoundingClientRect().width);
    if (wide > width + 1) {
      e.style.zoom = (width / wide).toFixed(3);
      const page = e.closest('.pdf-page');
      scaled.push(`${page ? page.id.replace('pdf-', '') : '?'}: ${e.tagName.toLowerCase()} ${Math.round(wide)}px`);
    }
  });
  return scaled;
}"""


def toc_parts() -> list[tuple[str | None, list[str]]]:
    """The table of contents: (part caption, files) in reading order, the root first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts: list[tuple[str | None, list[str]]] = [(None, [toc["root"]])]

    def walk(entries, out):
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            walk(entry.get("sections"), out)

    for part in toc.get("parts", []):
        files: list[str] = []
        walk(part.get("chapters"), files)
        parts.append((part.get("caption"), files))
    if toc.get("chapters"):
        files = []
        walk(toc["chapters"], files)
        parts.append((None, files))
    return parts


def slug(docname: str) -> str:
    return "pdf-" + re.sub(r"[^A-Za-z0-9_-]", "-", docname)


def _docname(path: str, pages: set[str], root: str) -> str | None:
    """The book page a local URL path points at, or None (``root``: _toc.yml's root)."""
    name = unquote(path).lstrip("/").removesuffix(".html")
    if name in ("", "index"):  # index.html redirects to the root page
        name = root
    return name if name in pages else None


class Heading:
    """A heading of the book: the id of its section, its HTML, its text, its level."""

    def __init__(self, target: str, tag: Tag, level: int):
        self.target, self.tag, self.level = target, tag, level
        self.text = tex_to_text(" ".join(tag.get_text(" ", strip=True).split()))


TEX_WORDS = {
    "top": "ᵀ",
    "T": "ᵀ",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "theta": "θ",
    "lambda": "λ",
    "mu": "μ",
    "pi": "π",
    "sigma": "σ",
    "Sigma": "Σ",
    "phi": "φ",
    "nabla": "∇",
    "cdot": "·",
    "times": "×",
    "le": "≤",
    "ge": "≥",
    "in": "∈",
    "to": "→",
    "R": "ℝ",
}


def tex_to_text(text: str) -> str:
    """Plain text for a bookmark, whose title cannot hold maths: X^\\T X -> XᵀX."""

    def maths(m: re.Match) -> str:
        tex = m.group(1)
        tex = re.sub(r"\\(?:mathbf|vb|mathrm|operatorname|text)\{([^{}]*)\}", r"\1", tex)
        tex = re.sub(r"\^\{?\\(?:top|T)(?![A-Za-z])\}?", "ᵀ", tex)
        tex = re.sub(r"\\([A-Za-z]+)", lambda w: TEX_WORDS.get(w.group(1), w.group(1)), tex)
        return re.sub(r"[{}]|\s+(?=ᵀ)", "", tex).replace("ᵀ ", "ᵀ")

    return re.sub(r"\\\((.*?)\\\)", maths, text)


def transform_article(
    html: str, docname: str, pages: set[str], root: str
) -> tuple[Tag, Heading, list[Heading]]:
    """The article of one built page, made part of the print document.

    ``pages`` are the book's pages, ``root`` the root page of _toc.yml. Returns the wrapped section, the page's title and its headings (levels 1 and 2).
    """
    soup = BeautifulSoup(html, "html.parser")
    article = soup.find("article", class_="bd-article")
    if article is None:
        raise SystemExit(f"{docname}.html has no <article class='bd-article'>: is the book built?")
    base = "/" + docname + ".html"
    prefix = slug(docname)

    # What a click would reveal on the web is printed open; hidden code stays hidden.
    for tag in article.select("details.above-input, details.below-input"):
        tag.decompose()
    for tag in article.select("details"):
        tag["open"] = ""
    for tag in article.select(".headerlink, .toggle-button, button"):
        tag.decompose()
    for tag in article.select(".toggle-hidden"):
        tag["class"] = [c for c in tag["class"] if c != "toggle-hidden"]
    # What only makes sense on the web (the landing page's download links).
    for tag in article.select(".web-only"):
        tag.decompose()
    # viewcode's [source] links lead to pages the PDF does not contain.
    for tag in article.select("a:has(> .viewcode-link)"):
        tag.decompose()
    # The landing page's table of contents: the PDF has its own, with page numbers.
    if docname == root:
        for tag in article.select(".toctree-wrapper"):
            tag.decompose()

    # Emoji (the execution status page's marks) that the print fonts (DejaVu) lack.
    for text in article.find_all(string=re.compile("[" + "".join(GLYPHS) + "]")):
        text.replace_with(text.translate(str.maketrans(GLYPHS)))

    for tag in article.find_all(True):
        if tag.has_attr("id"):
            tag["id"] = f"{prefix}--{tag['id']}"
        for attr in ("src", "poster"):
            if tag.has_attr(attr) and not re.match(r"^(data:|[a-z]+://)", tag[attr]):
                tag[attr] = urljoin(base, tag[attr])
        if tag.has_attr("loading"):
            del tag["loading"]
        if tag.name == "a" and tag.has_attr("href"):
            href = tag["href"]
            if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
                continue  # http(s), mailto: stays a link to the world
            url = urlsplit(urljoin(base, href))
            target = _docname(url.path, pages, root)
            if target is None:
                tag.unwrap()  # a file or page the PDF does not contain: keep the text
                continue
            frag = unquote(url.fragment)
            tag["href"] = "#" + (f"{slug(target)}--{frag}" if frag else slug(target))
            if tag.has_attr("target"):
                del tag["target"]

    # A link to a section lands on its heading. Chromium puts a destination where its
    # element starts: a section's box can start at the foot of one page while its
    # heading (never left alone at a page's end) opens the next, and the contents would
    # give the earlier page. So the section's id and its label anchors move to the heading.
    for sec in article.find_all("section"):
        heading = sec.find(re.compile(r"^h[1-6]$"), recursive=False)
        if heading is None or not sec.has_attr("id") or heading.has_attr("id"):
            continue
        for span in heading.find_previous_siblings("span"):
            if span.has_attr("id") and not span.get_text(strip=True):
                heading.insert(0, span.extract())
        heading["id"] = sec["id"]
        del sec["id"]

    h1 = article.find("h1")
    if h1 is None:
        raise SystemExit(f"{docname}.html has no title (h1): every page of _toc.yml needs one")
    title = Heading(prefix, h1, 1)
    headings = []
    for h in article.find_all(["h1", "h2"]):
        if h.has_attr("id"):
            headings.append(Heading(h["id"], h, int(h.name[1])))

    wrapper = soup.new_tag("section", attrs={"class": "pdf-page", "id": prefix})
    for child in list(article.children):
        wrapper.append(child.extract())
    return wrapper, title, headings


def contents_html(soup: BeautifulSoup, parts, titles, headings) -> Tag:
    """The contents page: parts, pages and the sections of the numbered chapters,
    each a link with a dotted leader and a page number (filled in after a first print)."""
    div = soup.new_tag("section", attrs={"class": "pdf-contents", "id": "pdf-contents"})
    h = soup.new_tag("h1")
    h.string = "Contents"
    div.append(h)
    top = soup.new_tag("ol")
    div.append(top)

    def entry(heading: Heading, cls: str) -> Tag:
        li = soup.new_tag("li", attrs={"class": cls})
        a = soup.new_tag("a", href="#" + heading.target)
        label = soup.new_tag("span", attrs={"class": "pdf-label"})
        for child in heading.tag.contents:  # keeps the maths of a heading typeset
            label.append(copy.copy(child))
        for tag in label.find_all(True):
            tag.attrs.pop("id", None)
        a.append(label)
        a.append(soup.new_tag("span", attrs={"class": "pdf-leader"}))
        num = soup.new_tag("span", attrs={"class": "pdf-pageno", "data-target": heading.target})
        num.string = PLACEHOLDER
        a.append(num)
        li.append(a)
        return li

    for caption, files in parts:
        if caption:
            li = soup.new_tag("li", attrs={"class": "pdf-part"})
            li.string = caption
            top.append(li)
        for f in files:
            li = entry(titles[f], "pdf-chapter")
            subs = [h for h in headings[f] if h.level == 2]
            if subs and re.match(r"\d", titles[f].text):  # sections of the numbered chapters
                ol = soup.new_tag("ol")
                for sub in subs:
                    ol.append(entry(sub, "pdf-section"))
                li.append(ol)
            top.append(li)
    return div


Outline = list[tuple[str | None, list[tuple[Heading, list[Heading]]]]]


def build_document(html_dir: Path) -> tuple[str, Outline]:
    """The print document (HTML) and the outline to bookmark: parts, pages, sections."""
    parts = toc_parts()
    order = [f for _, files in parts for f in files]
    pages = set(order)
    missing = [f for f in order if not (html_dir / f"{f}.html").exists()]
    if missing:
        raise SystemExit(f"pages missing from {html_dir}: {missing}; run `make book` first")

    # The shell: a chapter's <head> (its CSS and the MathJax configuration), no scripts
    # but MathJax's, and an empty article.
    shell_page = next((f for f in order if f.startswith("chapters/0")), order[0])
    shell = BeautifulSoup(
        (html_dir / f"{shell_page}.html").read_text(encoding="utf-8"), "html.parser"
    )
    head = shell.head
    for tag in head.find_all("script"):
        keep = "mathjax" in (tag.get("src") or "").lower() or "window.MathJax" in (tag.string or "")
        if not keep:
            tag.decompose()
    for tag in head.find_all("link"):
        if tag.get("rel") and tag["rel"][0] in ("preload", "next", "prev", "search", "index"):
            tag.decompose()
    base = "/" + shell_page + ".html"
    for tag in head.find_all(["link", "script"]):
        for attr in ("href", "src"):
            if tag.has_attr(attr):
                tag[attr] = urljoin(base, tag[attr])
    head.title.string = config().get("title", "Book")
    style = shell.new_tag("style")
    style.string = PRINT_CSS
    head.append(style)

    doc = BeautifulSoup("<!DOCTYPE html><html lang='en' data-theme='light'></html>", "html.parser")
    doc.html.append(copy.copy(head))
    body = doc.new_tag("body", attrs={"class": "pdf-book"})
    doc.html.append(body)
    main = doc.new_tag("main", attrs={"class": "bd-main"})
    content = doc.new_tag("div", attrs={"class": "bd-content"})
    container = doc.new_tag("div", attrs={"class": "bd-article-container"})
    article = doc.new_tag("article", attrs={"class": "bd-article"})
    body.append(main)
    main.append(content)
    content.append(container)
    container.append(article)

    titles, headings, sections = {}, {}, []
    for f in order:
        section, titles[f], headings[f] = transform_article(
            (html_dir / f"{f}.html").read_text(encoding="utf-8"), f, pages, order[0]
        )
        sections.append(section)

    cfg = config()
    title = doc.new_tag("section", attrs={"class": "pdf-title", "id": "pdf-title"})
    t = doc.new_tag("h1")
    t.string = cfg.get("title", "")
    title.append(t)
    intro = BeautifulSoup(
        (html_dir / f"{order[0]}.html").read_text(encoding="utf-8"), "html.parser"
    )
    strong = intro.select_one("article.bd-article p strong")
    if strong:
        sub = doc.new_tag("p", attrs={"class": "pdf-subtitle"})
        sub.string = strong.get_text(" ", strip=True)
        title.append(sub)
    meta = doc.new_tag("p", attrs={"class": "pdf-meta"})
    meta.append(NavigableString(cfg.get("author", "")))
    meta.append(doc.new_tag("br"))
    meta.append(NavigableString(f"Printed from the HTML book built on {build_date(html_dir)}"))
    title.append(meta)
    to_contents = doc.new_tag("a", href="#pdf-contents", attrs={"class": "pdf-to-contents"})
    to_contents.string = "Contents"  # also names the contents page for its bookmark
    title.append(to_contents)
    article.append(title)
    article.append(contents_html(doc, parts, titles, headings))
    for s in sections:
        article.append(s)
    outline = [
        (caption, [(titles[f], [h for h in headings[f] if h.level == 2]) for f in files])
        for caption, files in parts
    ]
    return str(doc), outline


@functools.cache
def config() -> dict:
    """The book's _config.yml."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def build_date(html_dir: Path) -> str:
    stamp = (html_dir / "index.html").stat().st_mtime
    if os.environ.get("SOURCE_DATE_EPOCH"):
        stamp = int(os.environ["SOURCE_DATE_EPOCH"])
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d")


def destinations(reader: PdfReader) -> dict[str, tuple[int, float | None, float | None]]:
    """Named destination -> (page index, left, top): Chromium names every link target."""
    out = {}
    for name, dest in reader.named_destinations.items():
        index = reader.get_destination_page_number(dest)
        if index >= 0:
            out[str(name).lstrip("/")] = (index, dest.get("/Left"), dest.get("/Top"))
    return out


def page_numbers(pdf: bytes) -> dict[str, int]:
    """Named destination -> 1-based page number."""
    return {k: v[0] + 1 for k, v in destinations(PdfReader(io.BytesIO(pdf))).items()}


def add_outline(writer: PdfWriter, dests, outline: Outline) -> None:
    """Bookmarks: Contents, then each part, its pages and their sections."""

    def add(title: str, target: str, parent=None):
        if target not in dests:
            return None
        index, left, top = dests[target]
        fit = Fit.xyz(left=left, top=top) if top is not None else Fit.fit()
        return writer.add_outline_item(title=title, page_number=index, parent=parent, fit=fit)

    add("Contents", "pdf-contents")
    for caption, chapters in outline:
        parent = None
        if caption and chapters:
            parent = add(caption, chapters[0][0].target)
        for title, sections in chapters:
            item = add(title.text, title.target, parent)
            for section in sections:
                add(section.text, section.target, item)


PAGENO = re.compile(r'(<span class="pdf-pageno" data-target="([^"]*)">)([^<]*)(</span>)')


def fill_page_numbers(document: str, numbers: dict[str, int] | None) -> str:
    """The document with the contents' page numbers filled in (placeholders if None)."""

    def fill(m: re.Match) -> str:
        n = PLACEHOLDER if numbers is None else str(numbers.get(m.group(2), ""))
        return m.group(1) + n + m.group(4)

    return PAGENO.sub(fill, document)


def printed_numbers(document: str) -> dict[str, str]:
    """The page number that the contents of a print document shows for each target."""
    return {m.group(2): m.group(3) for m in PAGENO.finditer(document)}


def print_pdf(html_dir: Path, document: str, outline: Outline, out: Path) -> int:
    """Print the document, with its contents' page numbers, and bookmark it.

    The page numbers come from where Chromium put each heading in a print of the same
    document; the print that is kept is one whose contents show the pages on which its
    own headings landed (checked on that PDF, not assumed). Each print is made from a
    freshly loaded page: printing the same page twice in print media does not lay it
    out the same way twice (a box near a page's end moves to the next page on every
    other print), so numbers read from one print were off by one in the next. The
    numbers sit in boxes of a fixed width, so filling them in cannot reflow the contents.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit(
            f"{CHROMIUM} is missing: `apt-get install chromium` (make pdf does it as root)"
        )
    stack = contextlib.ExitStack()
    server = stack.enter_context(serve(html_dir))
    footer = (
        '<div style="width:100%; font-size:8px; color:#666; text-align:center;'
        ' font-family: sans-serif;"><span class="pageNumber"></span></div>'
    )
    options = dict(
        format="A4",
        print_background=True,
        prefer_css_page_size=True,
        display_header_footer=True,
        header_template="<span></span>",
        footer_template=footer,
        outline=False,  # Chromium's doubles some titles, drops their maths: pypdf's
        tagged=True,
    )
    targets = set(printed_numbers(document))
    if not targets:
        raise SystemExit("the contents page has no page-number boxes (PAGENO out of date?)")
    timings: list[str] = []

    def typeset_and_print(browser, body: str, report: bool) -> bytes:
        """Load the print document in a new page, typeset it, print it."""
        problems: list[str] = []
        page = browser.new_page(viewport={"width": PRINT_WIDTH, "height": 1000})
        page.set_default_timeout(300_000)  # a busy 2-core machine typesets slowly
        page.emulate_media(media="print")
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"),
        )

        def route(r):
            url = r.request.url
            if url == server + PRINT_PATH:
                r.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
            elif url.startswith(server):
                r.continue_()
            else:  # the book is built offline and prints offline
                problems.append(f"off-site request: {url}")
                r.abort()

        page.route("**/*", route)
        t0 = time.monotonic()
        page.goto(server + PRINT_PATH, wait_until="load")
        page.wait_for_function(
            "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
        )
        page.evaluate("() => window.MathJax.startup.promise")
        page.wait_for_load_state("networkidle")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        # Wide tables and displays are scaled down to the page width, not cut off.
        scaled = page.evaluate(FIT_JS)
        if scaled and report:
            print(f"scaled {len(scaled)} wide element(s) to the page width: {scaled}")
        errors = page.evaluate(
            "() => Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))"
            ".map(e => e.getAttribute('data-mjx-error') || e.textContent)"
        )
        pending = page.evaluate(
            "() => document.querySelectorAll('.math:not(:has(mjx-container))').length"
        )
        if errors or pending:
            raise SystemExit(
                f"MathJax did not typeset everything: {pending} pending, errors {errors[:5]}"
            )
        if problems:
            raise SystemExit(f"problems loading the print document: {problems[:10]}")
        t1 = time.monotonic()
        pdf = page.pdf(**options)
        timings.append(f"{t1 - t0:.0f} + {time.monotonic() - t1:.0f} s")
        page.close()
        return pdf

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            # Print with placeholders, fill in where the headings landed, print again,
            # until a print shows its own page numbers (the second, unless a number's
            # width changed the layout; the loop stops with an error if it never does).
            body = fill_page_numbers(document, None)
            for _ in range(MAX_PRINTS):
                final = typeset_and_print(browser, body, report=not timings)
                landed = {k: v for k, v in page_numbers(final).items() if k in targets}
                shown = printed_numbers(body)
                wrong = {
                    k: (shown[k], landed.get(k))
                    for k in targets
                    if shown[k] != str(landed.get(k, ""))
                }
                if not wrong:
                    break
                body = fill_page_numbers(document, landed)
            else:
                raise SystemExit(
                    f"the contents' page numbers did not settle in {MAX_PRINTS} prints "
                    f"(target: (shown, landed)): {dict(list(wrong.items())[:5])}"
                )
            browser.close()
    finally:
        stack.close()
    missing = sorted(targets - set(landed))
    if missing:
        print(
            f"warning: no page found for {len(missing)} contents entries: {missing[:5]}",
            file=sys.stderr,
        )
    print(
        f"{len(timings)} prints (typeset + print): {', '.join(timings)}; the last one shows "
        "its own page numbers in the contents"
    )

    reader = PdfReader(io.BytesIO(final))
    writer = PdfWriter(clone_from=reader)
    add_outline(writer, destinations(reader), outline)
    writer.add_metadata(
        {
            "/Title": str(config().get("title", "Book")),
            "/Author": str(config().get("author", "")),
        }
    )
    writer.page_mode = "/UseOutlines"  # open with the bookmarks shown
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        writer.write(fh)
    tmp.replace(out)
    return len(writer.pages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "mlnotes.pdf")
    args = ap.parse_args(argv)
    # Chromium's PDFs declare one object too few in their trailer; pypdf says so, harmlessly.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    start = time.monotonic()
    document, outline = build_document(args.html)
    n = print_pdf(args.html.resolve(), document, outline, args.out)
    size = args.out.stat().st_size / 1e6
    print(f"{args.out}: {n} pages, {size:.1f} MB, in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
