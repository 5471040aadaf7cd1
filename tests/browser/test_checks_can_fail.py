"""The site checks catch what they are meant to catch: a chapter page of the built site, deliberately broken.

The broken copy lives in a temporary site whose other files are links to the real build; it is served on its
own port and visited like any page. Each check must report its fault, and only the check meant for it fires
on the clean copy (test_site.py runs the same checks on every real page).
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from sitecheck import (
    SITE,
    SiteVisitor,
    dropdown_problems,
    image_problems,
    link_problems,
    load_problems,
    markup_problems,
    maths_problems,
    serve,
    site_pages,
    solution_problems,
)

FLAT_IMAGE = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#fff"/></svg>')
FAULTS = f"""
<div id="deliberate-faults">
<a href="no-such-page.html">a page that does not exist</a>
<a href="#no-such-anchor">an anchor that does not exist</a>
<img src="../_images/no-such-figure.png" alt="missing">
<img src="{FLAT_IMAGE}" alt="flat">
<span class="math notranslate nohighlight">\\(x^2^3\\)</span>
<span class="math">p_drop</span>
<p>{{term}}`dropout` left unparsed</p>
<div class="cell_output"><pre>&lt;Figure size 500x320 with 1 Axes&gt;</pre></div>
<div class="solution admonition" id="unfolded-solution"><p class="admonition-title">Solution</p><p>42</p></div>
<div class="admonition dropdown toggle-shown" id="open-dropdown"><p class="admonition-title">Hint</p><p>x</p></div>
<script>console.error("deliberate console error");</script>
<script src="https://cdn.example.invalid/mathjax/tex-chtml.js"></script>
</div>
"""


@pytest.fixture(scope="module")
def broken_report(browser, tmp_path_factory):
    """Visit a broken copy of the first chapter page; return its report and the broken site's root and URL."""
    chapters = [p for p in site_pages() if p.startswith("notebooks/")]
    if not chapters:
        pytest.fail(f"no chapter page in {SITE}: run `make site` first")
    page = chapters[0]
    root = tmp_path_factory.mktemp("broken-site")
    for entry in SITE.iterdir():
        if entry.name != "notebooks":
            os.symlink(entry, root / entry.name)
    (root / "notebooks").mkdir()
    for entry in (SITE / "notebooks").iterdir():
        os.symlink(entry, root / "notebooks" / entry.name)
    (root / page).unlink()
    text = (SITE / page).read_text(encoding="utf-8")
    assert "</article>" in text, "the theme changed: no </article> to put the faults before"
    (root / page).write_text(text.replace("</article>", FAULTS + "</article>", 1), encoding="utf-8")
    with serve(root) as url:
        visitor = SiteVisitor(browser, root, url, tmp_path_factory.mktemp("screenshots"))
        try:
            yield visitor.visit(page), root, url
        finally:
            visitor.context.close()


def joined(problems: list[str]) -> str:
    return "\n".join(problems)


def test_load_check_catches_console_errors_and_other_hosts(broken_report):
    report, _, _ = broken_report
    problems = joined(load_problems(report))
    assert "deliberate console error" in problems
    assert "cdn.example.invalid" in problems


def test_maths_check_catches_raw_and_broken_latex(broken_report):
    problems = joined(maths_problems(broken_report[0]))
    assert "raw LaTeX: p_drop" in problems
    assert "MathJax error" in problems


def test_image_check_catches_missing_and_flat_images(broken_report):
    problems = joined(image_problems(broken_report[0]))
    assert "no-such-figure.png" in problems
    assert "one flat colour" in problems


def test_link_check_catches_missing_pages_and_anchors(broken_report):
    report, root, url = broken_report
    problems = joined(link_problems(report, root, url))
    assert "no such file: notebooks/no-such-page.html" in problems
    assert "no anchor #no-such-anchor" in problems


def test_dropdown_checks_catch_unfolded_solutions(broken_report):
    report, root, _ = broken_report
    assert "open-dropdown" in joined(dropdown_problems(report))
    assert "unfolded-solution" in joined(solution_problems(report, root))


def test_markup_check_catches_unparsed_roles_and_figure_reprs(broken_report):
    problems = joined(markup_problems(broken_report[0]))
    assert "{term}`" in problems
    assert "<Figure size 500x320 with 1 Axes>" in problems
