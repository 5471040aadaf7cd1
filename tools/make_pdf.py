"""Print the book's single-page HTML build to one PDF with Debian's headless Chromium, offline (``make pdf``).

    jupyter-book build . --builder singlehtml --path-output _build/pdf
    python tools/make_pdf.py _build/pdf/_build/singlehtml _build/regularization-hands-on.pdf

The single page is served on 127.0.0.1 (MathJax's fonts do not load from ``file://``); every request to another
host is aborted, so nothing is downloaded. In the browser, before printing:

* a title page and the contents (the parts and chapters of ``_toc.yml``, each linked to its chapter) are put in
  front, and every chapter starts on a new page;
* the solutions of the exercises (sphinx-exercise ``solution`` blocks, the graded solution cells included) are
  removed: the PDF is the students' book; the exercises stay;
* the site's navigation, buttons and heading anchors are hidden by print CSS;
* the script waits until MathJax has typeset every formula and every image has loaded, and fails otherwise.

The PDF is written to a temporary file beside the target and renamed, so a failed run never leaves half a PDF.
Chromium is ``$REGBOOK_CHROMIUM``, else ``chromium`` on the PATH (Debian's package).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PRINT_PAGE = "regbook-print.html"

PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm; }
@media print {
  html, body { background: #fff !important; }
  /* Chromium prints shadows as images: without them, the PDF's images are the book's figures */
  html body *, html body div.admonition, html body .admonition, html body div.highlight, html body .sd-card
    { box-shadow: none !important; text-shadow: none !important; }
  .bd-header, .bd-header-article, .header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
  .bd-footer-article, .bd-footer-content, .footer-article, .prev-next-area, .headerlink, .copybtn,
  .toggle-button, .skip-link, .search-button, .sidebar-toggle, .theme-switch-button, .bd-search,
  #pst-back-to-top, .regbook-site-only, .bd-header-announcement, #jb-print-docs-body, .article-header-buttons,
  .bd-header-article { display: none !important; }
  .bd-container, .bd-container__inner, .bd-page-width, .bd-main, .bd-content, .bd-article-container,
  .bd-article { max-width: none !important; width: 100% !important; padding: 0 !important; margin: 0 !important;
    display: block !important; }
  body { font-size: 10.5pt; }
  /* the theme hides each page's first h1 in print (it prints its own title); keep the chapters' titles */
  html body .bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
  h1, h2, h3 { break-after: avoid; }
  img, figure, .cell_output, table, .admonition, mjx-container[display="true"] { break-inside: avoid; }
  img { max-width: 100% !important; height: auto !important; }
  pre { white-space: pre-wrap !important; word-break: break-word; font-size: 8.5pt; }
  div.highlight, .cell_output { overflow: visible !important; max-height: none !important; }
  .regbook-chapter { break-before: page; }
  .regbook-title-page { height: 240mm; display: flex; flex-direction: column; justify-content: center;
    text-align: center; break-after: page; }
  .regbook-title-page .regbook-title { font-size: 32pt; font-weight: bold; margin-bottom: 1em; }
  .regbook-title-page .regbook-author { font-size: 14pt; }
  .regbook-contents { break-after: page; }
  .regbook-contents h2 { font-size: 12pt; margin: 1.2em 0 0.3em 0; }
  .regbook-contents ul { margin: 0; padding-left: 1.2em; list-style: none; }
  .regbook-contents li { margin: 0.15em 0; }
  .regbook-contents a { color: inherit; text-decoration: none; }
  a { color: inherit; }
}
"""

# Runs in the page: title page and contents, chapter breaks, solutions out, then waits for MathJax and images.
PREPARE_JS = """
async ({title, author, parts}) => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  // singlehtml: each document after the root starts with <span id="document-NAME">, then its <section>
  const sectionOf = (doc, index) => {
    const anchor = document.getElementById('document-' + doc);
    if (anchor) return anchor.nextElementSibling;
    return index === 0 ? article.querySelector('section') : null;
  };
  const titleOf = (doc, index) => {
    const heading = sectionOf(doc, index)?.querySelector('h1, h2, h3');
    if (!heading) return null;
    const copy = heading.cloneNode(true);
    copy.querySelectorAll('.headerlink').forEach(el => el.remove());
    return copy.textContent.trim();
  };
  // every chapter after the first starts on a new page
  for (const anchor of document.querySelectorAll('span[id^="document-"]')) {
    const section = anchor.nextElementSibling;
    if (section) section.classList.add('regbook-chapter');
  }
  // the students' book: no solutions
  let solutions = 0;
  for (const el of document.querySelectorAll('.solution')) { el.remove(); solutions += 1; }
  // cells whose code the site folds away ("hide-input": the command line's wrappers) are left out of print
  document.querySelectorAll('details.hide.above-input').forEach(el => el.remove());
  // title page and contents
  const front = document.createElement('div');
  const titlePage = document.createElement('div');
  titlePage.className = 'regbook-title-page';
  titlePage.innerHTML = '<div class="regbook-title"></div><div class="regbook-author"></div>';
  titlePage.querySelector('.regbook-title').textContent = title;
  titlePage.querySelector('.regbook-author').textContent = author;
  const contents = document.createElement('nav');
  contents.className = 'regbook-contents';
  contents.innerHTML = '<h1>Contents</h1>';
  const missing = [];
  let index = 0;
  for (const part of parts) {
    const heading = document.createElement('h2');
    heading.textContent = part.caption || '';
    if (part.caption) contents.append(heading);
    const list = document.createElement('ul');
    for (const doc of part.files) {
      const name = titleOf(doc, index++);
      if (!name) { missing.push(doc); continue; }
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = index === 1 ? '#' + sectionOf(doc, 0).id : '#document-' + doc;
      link.textContent = name;
      item.append(link);
      list.append(item);
    }
    contents.append(list);
  }
  front.append(titlePage, contents);
  article.prepend(front);
  // MathJax: wait until it has started and typeset everything
  const deadline = Date.now() + 120000;
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 100));
  }
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return {error: 'MathJax did not load'};
  await MathJax.startup.promise;
  if (MathJax.typesetPromise) await MathJax.typesetPromise();
  // images
  await Promise.all([...document.images].map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  const brokenImages = [...document.images].filter(img => img.naturalWidth === 0 && img.offsetParent !== null)
    .map(img => img.getAttribute('src'));
  const mathErrors = [...document.querySelectorAll('mjx-merror')].map(el => el.textContent).slice(0, 5);
  const formulas = document.querySelectorAll('mjx-container').length;
  return {solutions, missing, brokenImages, mathErrors, formulas, images: document.images.length};
}
"""


def toc_parts(toc_file: Path) -> list[dict]:
    """The parts of ``_toc.yml``: caption and the chapter files (without suffix), the root page first."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    parts = [{"caption": "", "files": [toc["root"]]}]
    for part in toc.get("parts", []):
        parts.append({"caption": part.get("caption", ""),
                      "files": [chapter["file"] for chapter in part.get("chapters", [])]})
    return parts


def print_page(single_html_dir: Path, root_doc: str) -> Path:
    """A copy of the single page at the root of the build (its links are relative to the root), with print CSS."""
    source = single_html_dir / f"{root_doc}.html"
    if not source.is_file():
        source = single_html_dir / "index.html"
    text = source.read_text(encoding="utf-8")
    if "</head>" not in text:
        raise SystemExit(f"{source} is not an HTML page with a <head>")
    text = text.replace("</head>", f'<style media="print">{PRINT_CSS}</style>\n</head>', 1)
    target = single_html_dir / PRINT_PAGE
    target.write_text(text, encoding="utf-8")
    return target


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port) from a thread; yield its base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def chromium_executable() -> str:
    executable = os.environ.get("REGBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        raise SystemExit(f"Chromium not found at {executable}: install Debian's chromium (apt-get install chromium "
                         "fonts-noto-cjk) or set REGBOOK_CHROMIUM")
    return executable


def make_pdf(single_html_dir: Path, output: Path, toc_file: Path = ROOT / "_toc.yml",
             config_file: Path = ROOT / "_config.yml") -> dict:
    from playwright.sync_api import sync_playwright

    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    parts = toc_parts(toc_file)
    page_file = print_page(single_html_dir, parts[0]["files"][0])
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    outside = []
    try:
        with serve(single_html_dir) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), headless=True,
                                                 args=["--no-sandbox", "--disable-gpu",
                                                       "--disable-background-networking"])
            try:
                page = browser.new_page()

                def route(request_route):
                    if request_route.request.url.startswith(base_url):
                        request_route.continue_()
                    else:
                        outside.append(request_route.request.url)
                        request_route.abort()

                page.route("**/*", route)
                page.goto(base_url + page_file.name, wait_until="load", timeout=120_000)
                report = page.evaluate(PREPARE_JS, {"title": config.get("title", ""),
                                                    "author": config.get("author", ""), "parts": parts})
                problems = [report["error"]] if "error" in report else []
                problems += [f"no chapter title found for {doc}" for doc in report.get("missing", [])]
                problems += [f"image did not load: {src}" for src in report.get("brokenImages", [])]
                problems += [f"MathJax error: {text}" for text in report.get("mathErrors", [])]
                if problems:
                    raise SystemExit("make_pdf: " + "\n  ".join(["the page is not ready to print:"] + problems))
                page.emulate_media(media="print")
                page.pdf(path=str(temporary), format="A4", print_background=True, outline=True,
                         display_header_footer=True, header_template="<span></span>",
                         footer_template='<div style="font-size:8pt;width:100%;text-align:center">'
                                         '<span class="pageNumber"></span></div>',
                         margin={"top": "18mm", "bottom": "20mm", "left": "16mm", "right": "16mm"})
            finally:
                browser.close()
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    report["requests_to_other_hosts"] = outside
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("single_html_dir", type=Path, help="the singlehtml build folder (…/_build/singlehtml)")
    parser.add_argument("output", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    if not args.single_html_dir.is_dir():
        parser.error(f"{args.single_html_dir} is not a folder: build it with jupyter-book build . --builder singlehtml")
    start = time.perf_counter()
    report = make_pdf(args.single_html_dir, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s: "
          f"{report['formulas']} formulas typeset, {report['images']} images, {report['solutions']} solutions left "
          f"out, {len(report['requests_to_other_hosts'])} requests to other hosts aborted")
    print(json.dumps({"aborted": report["requests_to_other_hosts"][:5]}) if report["requests_to_other_hosts"] else "",
          end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
