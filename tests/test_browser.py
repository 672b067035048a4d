"""The built book in a real browser: Debian's Chromium driven by Playwright.

For every page of the table of contents: no console errors and no failed requests,
every formula rendered by MathJax and carrying MathJax's assistive MathML, every image
loaded, high-dpi and described (alt text or a caption), every internal link pointing
at a page and an anchor that exist, room for 79 columns in every code block; the
search page finds chapter 4. And, for every page again:

- on a phone (390 x 844) the page does not scroll sideways (wide formulas, tables and
  code scroll in their own box) and the navigation opens from the sidebar toggle;
- in the theme's dark mode every figure sits on an opaque light background and all
  text of the article, admonitions, proofs, exercises and solutions included, keeps
  WCAG AA contrast;
- an axe-core audit, in light and in dark mode, finds no serious or critical
  violation;
- at 1280 px no code block scrolls sideways.

Full-page screenshots go to ``_build/screenshots/`` for a human to look at: NAME.png
(desktop), NAME-phone.png and NAME-dark.png.
"""

import functools
import io
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from chromium import CHROMIUM, CHROMIUM_ARGS, serve
from conftest import ROOT, toc_files

SHOTS = ROOT / "_build" / "screenshots"
PAGES = toc_files()
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# PEP 8's line length: every code block has room for it at 1280 px.
CODE_COLUMNS = 79
# WCAG 2 AA: 4.5:1 for body text, 3:1 for large text (24 px, or 18.66 px bold).
MIN_CONTRAST, MIN_CONTRAST_LARGE = 4.5, 3.0
# A figure in dark mode: the median relative luminance of its edge, as rendered (after
# the theme's dimming filter), at least this; white renders at about 0.70 there.
MIN_FIGURE_EDGE_LUMINANCE = 0.5
AXE_BLOCKING = ("serious", "critical")

playwright_sync = pytest.importorskip("playwright.sync_api")
try:  # axe-core, bundled with the package: nothing is fetched
    from axe_playwright_python.base import AXE_SCRIPT
except ImportError:  # test_accessibility says so; the other tests run
    AXE_SCRIPT = None



@pytest.fixture(scope="module")
def server(built_html):
    with serve(built_html) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does it as root)")
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def open_page(browser, server):
    """A factory of pages (viewport, colour mode) that record every loading problem."""
    contexts = []

    def make(viewport=DESKTOP, mode="light"):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        if mode != "light":
            # What the theme's switch button stores; read by the theme before it paints.
            context.add_init_script(f"localStorage.setItem('mode', {mode!r})")
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
        return pg

    yield make
    for context in contexts:
        context.close()


@pytest.fixture()
def page(open_page):
    return open_page()


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def _load(page, url):
    """Open url and wait until MathJax has typeset the page and the network is idle."""
    page.goto(url, wait_until="load")
    has_math = page.evaluate("() => typeof window.MathJax !== 'undefined'")
    if has_math:
        page.wait_for_function(
            "() => window.MathJax.startup && window.MathJax.startup.promise", timeout=30_000
        )
        page.evaluate("() => window.MathJax.startup.promise")
    page.wait_for_load_state("networkidle")


def _shot(name: str, suffix: str = "") -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name.replace('/', '__')}{suffix}.png"


def _expand(page):
    """Open what the page collapses: exercise solutions and hidden code cells."""
    page.evaluate(
        """() => {
        document.querySelectorAll('main button.toggle-button[aria-expanded="false"]')
                .forEach(b => b.click());
        document.querySelectorAll('main details:not([open])').forEach(d => { d.open = true; });
    }"""
    )


@pytest.mark.parametrize("name", PAGES)
def test_page_renders(page, server, built_html, name):
    url = f"{server}/{name}.html"
    _load(page, url)

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
          // MathJax's assistive MathML: what a screen reader reads, the visual
          // rendering being hidden from it.
          unreadable: Array.from(document.querySelectorAll('mjx-container'))
                       .filter(c => !c.querySelector(':scope > mjx-assistive-mml > math')
                                    || !c.querySelector(':scope > mjx-math[aria-hidden="true"]'))
                       .map(c => (c.closest('[id]') || {}).id || c.textContent.slice(0, 40)),
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
    assert not report["unreadable"], (
        f"{len(report['unreadable'])} formulas on {name} without MathJax's assistive MathML, "
        f"in the elements with id: {sorted(set(report['unreadable']))[:10]}"
    )
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

    page.screenshot(path=str(_shot(name)), full_page=True)

    # Room for CODE_COLUMNS columns in every code block, collapsed ones included: what
    # the book's CSS must give, whatever the chapters' lines (test_code_blocks_fit).
    _expand(page)
    narrow = page.evaluate(
        """(columns) => Array.from(document.querySelectorAll('main div.highlight pre')).map(pre => {
            const s = getComputedStyle(pre);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
            const room = (pre.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight))
                         / (ctx.measureText('0'.repeat(100)).width / 100);
            return {room, first: pre.textContent.split('\\n')[0].slice(0, 50)};
        }).filter(b => b.room < columns)
          .map(b => `${Math.floor(b.room)} columns: ${JSON.stringify(b.first)}`)""",
        CODE_COLUMNS,
    )
    assert not narrow, f"code blocks on {name} with room for fewer than {CODE_COLUMNS} columns: {narrow[:5]}"
    assert not page.problems, f"problems loading {name}: {page.problems[:10]}"


def test_search_finds_backpropagation(page, server):
    page.goto(f"{server}/search.html?q=backpropagation", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    assert any("04_backpropagation" in h for h in hrefs), hrefs
    assert not page.problems, page.problems


# --- Phone -------------------------------------------------------------------------

# The elements that stick out of the viewport on their own: not clipped or scrolled by
# an ancestor's box (a formula, table or code block that scrolls inside its box is fine),
# not fixed (off-canvas drawers), and not inside another such element.
_SIDEWAYS_JS = r"""() => {
    const width = window.innerWidth;
    const contained = e => {
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
            const s = getComputedStyle(a);
            if (s.overflowX !== 'visible' || s.position === 'fixed') return true;
        }
        return false;
    };
    const out = Array.from(document.querySelectorAll('body *')).filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > width + 1 && getComputedStyle(e).position !== 'fixed'
               && !contained(e);
    });
    return {
        width,
        scrollWidth: document.documentElement.scrollWidth,
        culprits: out.filter(e => !out.includes(e.parentElement)).map(e =>
            `<${e.tagName.toLowerCase()} class="${e.className}"> ends at `
            + `${Math.round(e.getBoundingClientRect().right)}px: `
            + JSON.stringify(e.textContent.trim().slice(0, 40))),
    };
}"""

# Whether the primary sidebar is shown: its navigation visible and inside the viewport;
# the pages of the table of contents it does not link; its top-level links not visible.
_NAVIGATION_JS = r"""(pages) => {
    const nav = document.querySelector('nav.bd-docs-nav');
    if (!nav) return {shown: false, unlinked: pages, hidden: []};
    const seen = a => a.checkVisibility({opacityProperty: true, visibilityProperty: true});
    const r = nav.getBoundingClientRect();
    const shown = seen(nav) && r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 1
                  && r.top < window.innerHeight;
    const page = a => new URL(a.href).pathname.replace(/^\//, '').replace(/\.html$/, '');
    const linked = Array.from(nav.querySelectorAll('a[href]')).map(page);
    return {
        shown,
        unlinked: pages.filter(p => !linked.includes(p)),
        hidden: Array.from(nav.querySelectorAll('.toctree-l1 > a')).filter(a => !seen(a)).map(page),
    };
}"""


@pytest.mark.parametrize("name", PAGES)
def test_phone_layout(open_page, server, name):
    page = open_page(viewport=PHONE)
    _load(page, f"{server}/{name}.html")

    sideways = page.evaluate(_SIDEWAYS_JS)
    assert sideways["scrollWidth"] <= PHONE["width"] + 1, (
        f"{name} scrolls sideways on a {PHONE['width']}px phone "
        f"(document {sideways['scrollWidth']}px wide); sticking out: {sideways['culprits'][:8]}"
    )
    page.screenshot(path=str(_shot(name, "-phone")), full_page=True)

    # The theme's sidebar toggle opens the navigation.
    toggles = page.locator("button.primary-toggle").filter(visible=True)
    assert toggles.count() == 1, f"{name}: {toggles.count()} visible primary sidebar toggles on a phone"
    before = page.evaluate(_NAVIGATION_JS, PAGES)
    assert not before["shown"], f"{name}: the navigation is shown on a phone before the toggle is pressed"
    toggles.click()
    try:
        page.wait_for_function(
            "(pages) => (" + _NAVIGATION_JS + ")(pages).shown", arg=PAGES, timeout=5_000
        )
    except playwright_sync.TimeoutError:
        pass
    after = page.evaluate(_NAVIGATION_JS, PAGES)
    assert after["shown"], f"{name}: the sidebar toggle does not show the navigation on a phone"
    assert not after["unlinked"], f"{name}: the phone navigation does not link {after['unlinked']}"
    assert not after["hidden"], f"{name}: chapters not visible in the phone navigation: {after['hidden']}"
    assert not page.problems, f"problems loading {name} on a phone: {page.problems[:10]}"


# --- Dark mode ---------------------------------------------------------------------

# Each image of the article: its content box in page coordinates, the share of its
# pixels that are not opaque (drawn on a canvas at natural size) and its CSS background.
_FIGURES_JS = r"""() => Array.from(document.querySelectorAll('main img')).map(img => {
    const s = getComputedStyle(img);
    const r = img.getBoundingClientRect();
    const px = v => parseFloat(v) || 0;
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let clear = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] < 250) clear++;
    return {
        src: img.getAttribute('src'),
        left: r.left + window.scrollX + px(s.borderLeftWidth) + px(s.paddingLeft),
        top: r.top + window.scrollY + px(s.borderTopWidth) + px(s.paddingTop),
        right: r.right + window.scrollX - px(s.borderRightWidth) - px(s.paddingRight),
        bottom: r.bottom + window.scrollY - px(s.borderBottomWidth) - px(s.paddingBottom),
        transparent: clear / (data.length / 4),
        background: s.backgroundColor,
    };
})"""

# WCAG contrast of every visible text element under scope, against its background
# composited from its ancestors' background colours; and, per kind of box, how many
# boxes the article has and how many checked text elements are inside one.
_CONTRAST_JS = r"""([scope, minimum, minimumLarge]) => {
    const rgba = c => {
        const m = c.match(/rgba?\(([^)]+)\)/);
        if (!m) return null;
        const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
    const background = el => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
        }
        return layers.reverse().reduce((bg, c) => over(c, bg), [255, 255, 255, 1]);
    };
    const lum = c => {
        const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const ratio = (a, b) => { const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x); return (hi + 0.05) / (lo + 0.05); };
    const kinds = {admonition: '.admonition', proof: 'div.proof', exercise: 'div.exercise', solution: 'div.solution'};
    const boxes = Object.fromEntries(Object.entries(kinds).map(([k, sel]) =>
        [k, [document.querySelectorAll('main ' + sel).length, 0]]));
    const low = [];
    let checked = 0;
    for (const el of document.querySelectorAll(scope + ' *')) {
        if (!Array.from(el.childNodes).some(t => t.nodeType === 3 && t.textContent.trim())) continue;
        if (el.closest('mjx-assistive-mml, .visually-hidden, .sr-only')) continue;
        if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
        const s = getComputedStyle(el);
        const bg = background(el);
        const fg = over(rgba(s.color), bg);
        const size = parseFloat(s.fontSize);
        const large = size >= 24 || (parseInt(s.fontWeight) >= 700 && size >= 18.66);
        const r = ratio(fg, bg);
        checked++;
        for (const [k, sel] of Object.entries(kinds)) if (el.closest(sel)) boxes[k][1]++;
        if (r < (large ? minimumLarge : minimum)) {
            const box = el.closest(Object.values(kinds).join(', '));
            low.push(`${r.toFixed(2)}:1 <${el.tagName.toLowerCase()} class="${el.className}">`
                     + `${box ? ' in .' + box.className.split(' ').join('.') : ''} `
                     + `${JSON.stringify(el.textContent.trim().slice(0, 30))} `
                     + `(${s.color} on rgb(${bg.slice(0, 3).map(Math.round).join(', ')}))`);
        }
    }
    return {checked, low, boxes};
}"""


def _luminance(pixels: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB pixels (..., 3) in 0..255."""
    c = pixels.astype(float) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def _edge_luminance(shot: Image.Image, box: dict, band: int = 3) -> float:
    """Median luminance of the band pixels just inside a box of the screenshot."""
    left, top = round(box["left"]) + 1, round(box["top"]) + 1
    right, bottom = round(box["right"]) - 1, round(box["bottom"]) - 1
    crop = np.asarray(shot.crop((left, top, right, bottom)).convert("RGB"))
    edge = np.concatenate([
        crop[:band].reshape(-1, 3), crop[-band:].reshape(-1, 3),
        crop[:, :band].reshape(-1, 3), crop[:, -band:].reshape(-1, 3),
    ])
    return float(np.median(_luminance(edge)))


def _css_luminance(color: str) -> tuple[float, float]:
    """(luminance, alpha) of a computed CSS rgb()/rgba() colour."""
    parts = [float(v) for v in re.findall(r"[\d.]+", color)]
    alpha = parts[3] if len(parts) > 3 else 1.0
    return float(_luminance(np.array(parts[:3]))), alpha


@pytest.mark.parametrize("name", PAGES)
def test_dark_mode(open_page, server, name):
    page = open_page(mode="dark")
    _load(page, f"{server}/{name}.html")
    theme = page.evaluate("() => document.documentElement.dataset.theme")
    assert theme == "dark", f"{name} is not in dark mode (data-theme={theme!r})"
    png = page.screenshot(path=str(_shot(name, "-dark")), full_page=True)

    # Figures stay legible: an opaque image, or a light opaque CSS background behind
    # its transparent pixels; and, as rendered, a light edge around it.
    shot = Image.open(io.BytesIO(png))
    dark_figures = []
    for fig in page.evaluate(_FIGURES_JS):
        if fig["right"] - fig["left"] < 10 or fig["bottom"] - fig["top"] < 10:
            continue
        if fig["transparent"] > 0.001:
            lum, alpha = _css_luminance(fig["background"])
            if alpha < 1 or lum < MIN_FIGURE_EDGE_LUMINANCE:
                dark_figures.append(
                    f"{fig['src']}: {fig['transparent']:.0%} transparent pixels on {fig['background']}"
                )
                continue
        edge = _edge_luminance(shot, fig)
        if edge < MIN_FIGURE_EDGE_LUMINANCE:
            dark_figures.append(f"{fig['src']}: rendered edge luminance {edge:.2f}")
    assert not dark_figures, (
        f"figures without an opaque light background in dark mode on {name} "
        f"(edge luminance must be >= {MIN_FIGURE_EDGE_LUMINANCE}): {dark_figures}"
    )

    # Text keeps WCAG AA contrast, the solutions and hidden cells opened.
    _expand(page)
    contrast = page.evaluate(_CONTRAST_JS, ["main", MIN_CONTRAST, MIN_CONTRAST_LARGE])
    assert contrast["checked"] > 0, f"no text found on {name}"
    unchecked = [k for k, (n, inside) in contrast["boxes"].items() if n and not inside]
    assert not unchecked, f"{name}: no visible text checked inside its {unchecked} boxes"
    assert not contrast["low"], (
        f"{len(contrast['low'])} text elements on {name} in dark mode below WCAG AA "
        f"({MIN_CONTRAST}:1, {MIN_CONTRAST_LARGE}:1 large): {contrast['low'][:10]}"
    )
    assert not page.problems, f"problems loading {name} in dark mode: {page.problems[:10]}"


# --- Accessibility -----------------------------------------------------------------


# No preload: axe would fetch the stylesheets' @imports again, resolved against the page
# instead of the stylesheet (a 404 for theme.css's "../basic.css"), for the one rule that
# needs them, css-orientation-lock, which is experimental and off.
AXE_OPTIONS = {"resultTypes": ["violations"], "preload": False}


def _axe_report(violations: list[dict]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {v['help']}; e.g. "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in violations
    ]


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_accessibility(open_page, server, name, mode):
    if AXE_SCRIPT is None:
        pytest.fail("axe-playwright-python is missing: pip install -r requirements.txt")
    page = open_page(mode=mode)
    _load(page, f"{server}/{name}.html")
    _expand(page)
    page.evaluate(AXE_SCRIPT)
    run = "([context, options]) => axe.run(context, options).then(r => r.violations)"
    # Every rule on the whole page, but color-contrast: that one costs most of axe's time,
    # most of it in the thousands of highlighted tokens of the code cells. It runs on the
    # rest of the page; the code's contrast is computed below, as in test_dark_mode.
    violations = page.evaluate(
        run, [{"exclude": []}, {**AXE_OPTIONS, "rules": {"color-contrast": {"enabled": False}}}]
    )
    violations += page.evaluate(
        run, [{"exclude": [["div.highlight"]]}, {**AXE_OPTIONS, "runOnly": ["color-contrast"]}]
    )
    blocking = [v for v in violations if v["impact"] in AXE_BLOCKING]
    assert not blocking, (
        f"axe-core on {name} ({mode} mode): {len(blocking)} serious or critical violations: "
        f"{_axe_report(blocking)}"
    )
    code = page.evaluate(_CONTRAST_JS, ["main div.highlight", MIN_CONTRAST, MIN_CONTRAST_LARGE])
    assert not code["low"], (
        f"{len(code['low'])} code tokens on {name} ({mode} mode) below WCAG AA "
        f"({MIN_CONTRAST}:1): {code['low'][:10]}"
    )
    assert not page.problems, f"problems loading {name} ({mode} mode): {page.problems[:10]}"


# --- Readable code -----------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_code_blocks_fit(page, server, name):
    """No code block, input or printed output, is wider than the page shows at 1280 px.

    The chapters keep code lines to 78 characters (ruff's E501, chapters/ruff.toml)
    and printed lines too (tests/test_book.py); this measures the result in Chromium.
    """
    _load(page, f"{server}/{name}.html")
    _expand(page)
    wide = page.evaluate(
        r"""() => Array.from(document.querySelectorAll('main div.highlight pre'))
        .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
        .map(pre => {
            const lines = pre.textContent.replace(/\n$/, '').split('\n');
            const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
            const kind = pre.closest('.cell_output, .output') ? 'output' : 'code';
            const cell = pre.closest('.cell');
            const index = Array.from(document.querySelectorAll('main .cell')).indexOf(cell) + 1;
            return `${kind} of code cell ${index || '?'} (${pre.scrollWidth - pre.clientWidth}px too wide, `
                   + `longest line ${longest.length} chars): ${JSON.stringify(longest.slice(0, 60))}`;
        })"""
    )
    assert not wide, (
        f"{len(wide)} code blocks on {name} scroll sideways at {DESKTOP['width']}px: {wide}"
    )
    assert not page.problems, f"problems loading {name}: {page.problems[:10]}"
