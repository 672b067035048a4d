"""The built book in a real browser: Debian's Chromium driven by Playwright.

For every page of the table of contents: no console errors and no failed requests,
every formula rendered by MathJax, every image loaded, high-dpi and described (alt
text or a caption), every internal link pointing
at a page and an anchor that exist; the search page finds chapter 4; a full-page
screenshot per page goes to ``_build/screenshots/`` for a human to look at.
"""

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT, toc_files

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SHOTS = ROOT / "_build" / "screenshots"
PAGES = toc_files()

playwright_sync = pytest.importorskip("playwright.sync_api")

# Flags for a sandboxed root account on a machine without a display or network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server(built_html):
    handler = functools.partial(_QuietHandler, directory=str(built_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does it as root)")
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: m.type == "error" and pg.problems.append(f"console: {m.text}"))
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: pg.problems.append(f"failed request: {r.url}"))
    pg.on("response", lambda r: r.status >= 400 and pg.problems.append(f"HTTP {r.status}: {r.url}"))

    def only_local(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            pg.problems.append(f"off-site request: {route.request.url}")
            route.abort()

    pg.route("**/*", only_local)
    yield pg
    context.close()


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", PAGES)
def test_page_renders(page, server, built_html, name):
    url = f"{server}/{name}.html"
    page.goto(url, wait_until="load")
    has_math = page.evaluate("() => typeof window.MathJax !== 'undefined'")
    if has_math:
        page.wait_for_function(
            "() => window.MathJax.startup && window.MathJax.startup.promise", timeout=30_000
        )
        page.evaluate("() => window.MathJax.startup.promise")
    page.wait_for_load_state("networkidle")

    # Every formula rendered, none left as TeX source, no MathJax error nodes.
    report = page.evaluate(
        r"""() => {
        const main = document.querySelector('main') || document.body;
        const clone = main.cloneNode(true);
        clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .output')
             .forEach(e => e.remove());
        return {
          text: clone.innerText,
          rendered: main.querySelectorAll('mjx-container').length,
          pending: main.querySelectorAll('.math:not(:has(mjx-container))').length,
          errors: Array.from(main.querySelectorAll('mjx-merror, [data-mjx-error]'))
                       .map(e => e.getAttribute('data-mjx-error') || e.textContent),
          images: Array.from(main.querySelectorAll('img'))
                       .filter(i => !(i.complete && i.naturalWidth > 0))
                       .map(i => i.getAttribute('src')),
          unlabelled: Array.from(main.querySelectorAll('img'))
                       .filter(i => !(i.getAttribute('alt') || '').trim()
                                    && !(i.closest('figure') && i.closest('figure').querySelector('figcaption')))
                       .map(i => i.getAttribute('src')),
          blurry: Array.from(main.querySelectorAll('img'))
                       .filter(i => /\.png$/.test(i.getAttribute('src') || '') && i.clientWidth > 0
                                    && i.naturalWidth < 1.5 * i.clientWidth)
                       .map(i => `${i.getAttribute('src')} (${i.naturalWidth}px shown at ${i.clientWidth}px)`),
          links: Array.from(main.querySelectorAll('a.reference.internal, a[href*="#"]'))
                       .map(a => a.href),
        };
    }"""
    )
    assert not report["errors"], f"MathJax errors on {name}: {report['errors'][:5]}"
    assert report["pending"] == 0, f"{report['pending']} math elements not typeset on {name}"
    leftovers = re.findall(r"\$\$|\\begin\{|\\frac|\\pdv|(?<![\w$])\$[^$\n]{1,80}\$", report["text"])
    assert not leftovers, f"raw TeX left in the text of {name}: {leftovers[:5]}"
    if name.startswith("chapters/0"):
        assert report["rendered"] > 10, f"{name} shows almost no rendered maths"
    assert not report["images"], f"images that did not load on {name}: {report['images']}"
    assert not report["unlabelled"], f"figures without alt text or caption on {name}: {report['unlabelled']}"
    assert not report["blurry"], f"figures not high-dpi on {name}: {report['blurry']}"

    # Cross-references resolve to an existing page and anchor.
    broken = []
    for href in report["links"]:
        parts = urlsplit(href)
        if not href.startswith(server):
            continue
        target = built_html / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(href)
        elif parts.fragment and unquote(parts.fragment) not in _anchors(target):
            broken.append(href)
    assert not broken, f"links on {name} to missing pages or anchors: {sorted(set(broken))[:10]}"

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name.replace('/', '__')}.png"), full_page=True)
    assert not page.problems, f"problems loading {name}: {page.problems[:10]}"


def test_search_finds_backpropagation(page, server):
    page.goto(f"{server}/search.html?q=backpropagation", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    assert any("04_backpropagation" in h for h in hrefs), hrefs
    assert not page.problems, page.problems
