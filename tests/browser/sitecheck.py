"""Helpers of the browser test of the built site: a local HTTP server, headless Chromium, one visit per page.

The site (``_build/html``, or ``$REGBOOK_SITE``) is served on 127.0.0.1 from a thread; Debian's Chromium
(``/usr/bin/chromium``, or ``$REGBOOK_CHROMIUM``) is driven by Playwright — no browser is ever downloaded.
Every request to another host is recorded and aborted, so the pages are checked exactly as an offline reader
sees them. Each page is visited once (``SiteVisitor.visit``) and the tests assert on what that visit recorded.
"""

from __future__ import annotations

import functools
import html
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from make_pdf import serve as serve  # noqa: E402  (re-exported: serves a folder on 127.0.0.1, written once)

SITE = Path(os.environ.get("REGBOOK_SITE", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = Path(os.environ.get("REGBOOK_SCREENSHOTS", SITE.parent / "screenshots")).resolve()
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 900}
META_REFRESH = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)
# MyST roles/directives that reached the page as text: a role or directive the build did not understand.
RAW_MARKUP = re.compile(r"\{(term|cite(:\w+)?|glue(:\w+)?|doc|ref|numref|eq|math|download|prf:\w+)\}`|```\{")
FIGURE_REPR = re.compile(r"<Figure size \d+x\d+ with \d+ Axes>")
UNFOLDED_SOLUTION = re.compile(r'<div class="solution (?![^"]*dropdown)[^"]*" id="([^"]*)"')
NOT_PAGES = ("_static", "_sources", "_images", "_sphinx_design_static")

# Run inside the page once it has loaded: waits for MathJax and the images, then describes the page.
DESCRIBE_PAGE = """
async () => {
  const out = {};
  const mj = window.MathJax;
  out.mathjax = !!(mj && mj.version);
  if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
  const maths = [...document.querySelectorAll('.math')];
  out.math_total = maths.length;
  out.math_untypeset = maths.filter(m => !m.querySelector('mjx-container'))
                            .map(m => m.textContent.trim().slice(0, 80));
  out.math_errors = [...document.querySelectorAll('mjx-merror')]
      .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 10);
  const imgs = [...document.images];
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); setTimeout(done, 5000);
  })));
  out.images = imgs.map(img => {
    let spread = null;
    if (img.naturalWidth > 0) {
      const c = document.createElement('canvas');
      c.width = 64; c.height = 64;
      const ctx = c.getContext('2d');
      ctx.drawImage(img, 0, 0, 64, 64);
      const d = ctx.getImageData(0, 0, 64, 64).data;
      const lo = [255, 255, 255, 255], hi = [0, 0, 0, 0];
      for (let i = 0; i < d.length; i += 4) {
        for (let k = 0; k < 4; k++) { lo[k] = Math.min(lo[k], d[i + k]); hi[k] = Math.max(hi[k], d[i + k]); }
      }
      spread = Math.max(...hi.map((h, k) => h - lo[k]));
    }
    return {src: img.getAttribute('src'), url: img.currentSrc || img.src, width: img.naturalWidth,
            height: img.naturalHeight, spread: spread, cls: img.className};
  });
  out.links = [...document.querySelectorAll('a[href]')].map(a => ({href: a.getAttribute('href'), url: a.href,
      cls: a.className, text: a.textContent.trim().slice(0, 60)}));
  out.icons = [...document.querySelectorAll('link[rel~="icon"]')].map(l => l.href);
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('pre, code, script, style, mjx-container, .highlight, .math')
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) { texts.push(walker.currentNode.textContent); }
  out.prose = texts.join(' ');
  out.outputs = [...document.querySelectorAll('.cell_output')].map(e => e.textContent);
  out.title = document.title;
  return out;
}
"""

DROPDOWNS = ".admonition.dropdown, details:not([open])"
_DROPDOWN_JS = """
  // the folded dropdowns as first found (marked, so that one opened by a click is still counted afterwards)
  let items = [...document.querySelectorAll('[data-regbook-dropdown]')];
  if (!items.length) {
    items = [...document.querySelectorAll('.admonition.dropdown, details:not([open])')];
    items.forEach((item, i) => { item.dataset.regbookDropdown = String(i); });
  }
  const body = item => [...item.children].find(c => !c.matches('.admonition-title, summary'));
  const shown = el => !!el && el.checkVisibility() && el.getBoundingClientRect().height > 0;
"""
# Before any click: each dropdown's id, classes and whether its content is hidden.
DROPDOWN_STATE = "() => {" + _DROPDOWN_JS + """
  return items.map(item => ({id: item.id, classes: item.className, hidden_before: !shown(body(item))}));
}"""
# Click the dropdowns from the given index on (the first may have had a real click); then: is each one open?
OPEN_DROPDOWNS = "async (start) => {" + _DROPDOWN_JS + """
  items.slice(start).forEach(item => item.querySelector(':scope > .admonition-title, :scope > summary').click());
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return items.map(item => shown(body(item)));
}"""

# Whether a CJK string is drawn with real glyphs: with no CJK font every character becomes the same box.
CJK_GLYPHS_DIFFER = """
(element) => {
  const font = getComputedStyle(element).font;
  const draw = (ch) => {
    const c = document.createElement('canvas'); c.width = 48; c.height = 48;
    const ctx = c.getContext('2d'); ctx.font = font.replace(/\\d+(\\.\\d+)?px/, '32px');
    ctx.fillStyle = '#000'; ctx.fillText(ch, 4, 36);
    return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(',');
  };
  const glyphs = ['过', '拟', '合', '丢'].map(draw);
  const blank = draw(' ');
  return {distinct: new Set(glyphs).size, inked: glyphs.every(g => g !== blank), font: font};
}
"""


@dataclass
class PageReport:
    """What one visit of a page recorded."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    description: dict = field(default_factory=dict)
    dropdowns: list[dict] = field(default_factory=list)
    screenshot: Path | None = None


def site_pages(site: Path = SITE) -> list[str]:
    """Every HTML page of the site, as a path relative to its root (``notebooks/dropout.html``)."""
    if not site.is_dir():
        return []
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in NOT_PAGES)


def is_content_page(page: str) -> bool:
    """A page of the book (chapter or prose page), as opposed to index/search/genindex."""
    return page.startswith(("notebooks/", "book/"))


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    """The ``id``/``name`` attributes in an HTML file: the fragments a link may point to."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(html.unescape(m) for m in re.findall(r'\s(?:id|name)="([^"]*)"', text))


def resolve_internal(site: Path, base_url: str, url: str) -> tuple[Path | None, str, str | None]:
    """For a link on the local server: (file it points to or None, fragment, problem or None)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    base_path = urlsplit(base_url).path
    relative = path[len(base_path):].lstrip("/")
    target = Path(os.path.normpath(site / relative))
    if not path.startswith(base_path) or (site != target and site not in target.parents):
        return None, parts.fragment, f"points outside the site: {url}"
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None, parts.fragment, f"no such file: {target.relative_to(site)}"
    return target, unquote(parts.fragment), None


# The checks: each returns the problems it found on one visited page (an empty list when the page is fine).

def load_problems(report: PageReport) -> list[str]:
    return ([f"asked another host (offline readers would see it broken): {url}" for url in report.external_requests]
            + [f"request failed: {failure}" for failure in report.failed_requests]
            + [f"console error: {error}" for error in report.console_errors])


def maths_problems(report: PageReport) -> list[str]:
    description = report.description
    problems = []
    if description["math_total"] and not description["mathjax"]:
        problems.append("the page has maths but MathJax did not load")
    problems += [f"maths left as raw LaTeX: {tex}" for tex in description["math_untypeset"]]
    problems += [f"MathJax error: {error}" for error in description["math_errors"]]
    return problems


def image_problems(report: PageReport) -> list[str]:
    images = report.description["images"]
    return ([f"image did not load (naturalWidth 0): {img['src']}" for img in images if img["width"] == 0]
            + [f"image of one flat colour (an empty figure?): {img['src']}" for img in images
               if img["spread"] is not None and img["spread"] < 8])


def link_problems(report: PageReport, site: Path, base_url: str) -> list[str]:
    problems = []
    for link in report.description["links"]:
        url, shown = link["url"], f"{link['href']!r} ({link['text']!r})"
        if not url.startswith(base_url):
            if url.startswith(("http://127.", "http://localhost", "file:")):
                problems.append(f"{shown}: points at a local address outside the site")
            continue
        target, fragment, problem = resolve_internal(site, base_url, url)
        if problem:
            problems.append(f"{shown}: {problem}")
        elif fragment and target.suffix == ".html" and fragment not in anchors_of(target):
            problems.append(f"{shown}: no anchor #{fragment} in {target.relative_to(site)}")
    return problems


def dropdown_problems(report: PageReport) -> list[str]:
    return ([f"dropdown shown unfolded on load (a solution must be folded): {d['id']}"
             for d in report.dropdowns if not d["hidden_before"]]
            + [f"dropdown does not open on click: {d['id']}" for d in report.dropdowns if not d["shown_after"]])


def solution_problems(report: PageReport, site: Path) -> list[str]:
    text = (site / report.page).read_text(encoding="utf-8")
    return [f"solution without ':class: dropdown' (shown next to its exercise): {html.unescape(m)}"
            for m in UNFOLDED_SOLUTION.findall(text)]


def markup_problems(report: PageReport) -> list[str]:
    description = report.description
    raw = sorted({m.group(0) for m in RAW_MARKUP.finditer(description["prose"])})
    problems = [f"MyST markup shown as text (not understood by the build): {r}" for r in raw]
    for text in description["outputs"]:
        match = FIGURE_REPR.search(text)
        if match:
            problems.append(f"a figure printed as text instead of drawn ({match.group(0)}): end the cell with "
                            "plt.show() or assign the last expression (`_ = ...`)")
    return problems


class SiteVisitor:
    """Visits pages of the served site in one browser page, each once, and caches what it saw."""

    def __init__(self, browser, site: Path, base_url: str, screenshots: Path):
        self.site = site
        self.base_url = base_url
        self.screenshots = screenshots
        self.context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        self.reports: dict[str, PageReport] = {}
        self.external: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self._current: PageReport | None = None
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self._record("console_errors", f"uncaught: {exc}"))
        self.page.on("requestfailed", self._on_failed)
        self.page.on("response", self._on_response)

    def _record(self, kind: str, message: str) -> None:
        if self._current is not None:
            getattr(self._current, kind).append(message)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.base_url) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.external.append(url)
            self._record("external_requests", url)
            route.abort()

    def _on_console(self, message) -> None:
        if message.type == "error":
            self._record("console_errors", f"{message.text} ({message.location.get('url', '')})")

    def _on_failed(self, request) -> None:
        if request.url.startswith(self.base_url):
            self._record("failed_requests", f"{request.url}: {request.failure}")

    def _on_response(self, response) -> None:
        if response.url.startswith(self.base_url) and response.status >= 400:
            self._record("failed_requests", f"{response.url}: HTTP {response.status}")

    def visit(self, page: str) -> PageReport:
        if page in self.reports:
            return self.reports[page]
        report = PageReport(page)
        redirect = META_REFRESH.search((self.site / page).read_text(encoding="utf-8", errors="replace"))
        self._current = report
        try:
            if redirect:  # index.html: a meta refresh to the first page; check where it lands
                target = urljoin(self.base_url + page, html.unescape(redirect.group(1)))
                self.page.goto(self.base_url + page, wait_until="commit")
                self.page.wait_for_url(target.split("#")[0] + "*")
                self.page.wait_for_load_state("load")
            else:
                self.page.goto(self.base_url + page, wait_until="load")
            report.description = self.page.evaluate(DESCRIBE_PAGE)
            if is_content_page(page):
                name = page.removesuffix(".html").replace("/", "__") + ".png"
                report.screenshot = self.screenshots / name
                self.page.screenshot(path=str(report.screenshot), full_page=True, timeout=90_000)
            report.dropdowns = self._open_dropdowns()
            self.page.wait_for_timeout(50)  # let late console messages arrive
        finally:
            self._current = None
            self.page.goto("about:blank")  # nothing of this page may be blamed on the next one
        self.reports[page] = report
        return report

    def _open_dropdowns(self) -> list[dict]:
        """Open every folded dropdown (solutions included): was its content hidden, then shown?

        The first one is opened by a real mouse click (Playwright checks it is visible and not covered), the
        others by a click event from the page's script, which runs the same handler and is much faster.
        """
        state = self.page.evaluate(DROPDOWN_STATE)
        if state and state[0]["hidden_before"]:
            first = self.page.locator(DROPDOWNS).first
            first.locator(":scope > .admonition-title, :scope > summary").first.click()
        opened = self.page.evaluate(OPEN_DROPDOWNS, 1 if state else 0)
        return [dict(before, shown_after=after) for before, after in zip(state, opened, strict=True)]
