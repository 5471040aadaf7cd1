"""The built site as a reader sees it, in headless Chromium with no network (see sitecheck.py).

Every page: loads with no console error and no request to another host (MathJax included: it is served from
``_static/mathjax``), its maths typeset, its images loaded and not blank, every internal link and anchor
resolving, every folded dropdown (exercise solutions) hidden and opening on click, no unrendered MyST.
Chapter pages: a screenshot in ``_build/screenshots/``, the .ipynb download and repository buttons, favicon
and logo. The search page finds "dropout"; the glossary's Chinese is drawn with real glyphs; the timings page
lists every chapter; the reproduce page every experiment; exercises are numbered 1, 2, ... on every chapter
page. test_checks_can_fail.py shows that each check catches what it is meant to catch.
"""

from __future__ import annotations

import importlib.util

import nbformat
import pytest
import yaml
from sitecheck import (
    CJK_GLYPHS_DIFFER,
    ROOT,
    SITE,
    dropdown_problems,
    image_problems,
    is_content_page,
    link_problems,
    load_problems,
    markup_problems,
    maths_problems,
    resolve_internal,
    site_pages,
    solution_problems,
)

PAGES = site_pages()
CONTENT_PAGES = [p for p in PAGES if is_content_page(p)]
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith("notebooks/")]
_spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "tools" / "colab_cell.py")
colab_cell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab_cell)


def check(page: str, problems: list[str]) -> None:
    """Fail with every problem found on ``page``, one per line."""
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def test_the_site_has_the_book_pages():
    assert (SITE / "index.html").is_file(), f"no built site at {SITE}: run `make site` first"
    assert NOTEBOOK_PAGES, f"no chapter pages under {SITE / 'notebooks'}"
    assert "search.html" in PAGES and "book/glossary.html" in PAGES and "book/references.html" in PAGES


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_offline_without_errors(visitor, page):
    check(page, load_problems(visitor.visit(page)))


@pytest.mark.parametrize("page", PAGES)
def test_maths_is_typeset(visitor, page):
    check(page, maths_problems(visitor.visit(page)))


@pytest.mark.parametrize("page", PAGES)
def test_images_are_present_and_not_blank(visitor, page):
    check(page, image_problems(visitor.visit(page)))


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_resolve(visitor, site, base_url, page):
    check(page, link_problems(visitor.visit(page), site, base_url))


@pytest.mark.parametrize("page", PAGES)
def test_dropdowns_are_folded_and_open_on_click(visitor, site, page):
    report = visitor.visit(page)
    check(page, dropdown_problems(report) + solution_problems(report, site))


@pytest.mark.parametrize("page", PAGES)
def test_no_unrendered_markup(visitor, page):
    check(page, markup_problems(visitor.visit(page)))


@pytest.mark.parametrize("page", CONTENT_PAGES)
def test_screenshot_saved(visitor, page):
    report = visitor.visit(page)
    assert report.screenshot is not None and report.screenshot.is_file()
    assert report.screenshot.stat().st_size > 10_000, f"{report.screenshot} is suspiciously small"


@pytest.mark.parametrize("page", CONTENT_PAGES)
def test_favicon_logo_and_buttons(visitor, site, base_url, page):
    description = visitor.visit(page).description
    icons = description["icons"]
    assert icons and all(resolve_internal(site, base_url, url)[2] is None for url in icons), (
        f"{page}: favicon missing or not found: {icons}")
    logos = [img for img in description["images"] if "logo__image" in img["cls"]]
    assert logos and all(img["width"] > 0 for img in logos), f"{page}: logo missing: {logos}"
    classes = " ".join(link["cls"] for link in description["links"])
    assert "btn-source-repository-button" in classes, f"{page}: no repository button"
    if page.startswith("notebooks/"):
        stem = page.removeprefix("notebooks/").removesuffix(".html")
        downloads = [link["href"] for link in description["links"] if "btn-download-source-button" in link["cls"]]
        assert any(href.endswith(f"_sources/notebooks/{stem}.ipynb") for href in downloads), (
            f"{page}: no .ipynb download button: {downloads}")


def test_search_finds_dropout(visitor, base_url):
    page = visitor.page
    page.goto(base_url + "search.html?q=dropout", wait_until="load")
    page.wait_for_selector("#search-results li", timeout=20_000)
    results = page.eval_on_selector_all("#search-results li a", "links => links.map(a => a.href)")
    assert results, "searching for 'dropout' found nothing"
    assert any("/notebooks/" in url or "/book/glossary" in url for url in results), results


def test_glossary_chinese_is_drawn_with_real_glyphs(visitor, base_url):
    visitor.page.goto(base_url + "book/glossary.html", wait_until="load")
    rendered = visitor.page.locator("dl.glossary dd").first.evaluate(CJK_GLYPHS_DIFFER)
    assert rendered["inked"] and rendered["distinct"] == 4, (
        f"Chinese characters are not drawn with a CJK font ({rendered}); install fonts-noto-cjk")


def table_rows(page, table: str) -> list[tuple[list[str], str | None]]:
    """The body rows of the table ``table`` (a CSS selector): each row's cell texts and its first link."""
    return page.eval_on_selector_all(
        f"{table} tbody tr",
        "rows => rows.map(r => [Array.from(r.cells, c => c.textContent.trim()),"
        " r.querySelector('a') ? r.querySelector('a').href : null])")


@pytest.mark.skipif("book/timings.html" not in PAGES, reason="book/timings.md is not in _toc.yml yet")
def test_timings_page_lists_every_chapter(visitor, base_url):
    visitor.page.goto(base_url + "book/timings.html", wait_until="load")
    rows = table_rows(visitor.page, "table.notebook-timings")
    linked = {url.split("#")[0].removeprefix(base_url) for _, url in rows if url}
    assert linked == set(NOTEBOOK_PAGES), f"timings table rows {sorted(linked)} != chapters {NOTEBOOK_PAGES}"
    seconds = [cells[-1] for cells, _ in rows]
    assert all(value.isdigit() and int(value) > 0 for value in seconds), rows


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_colab_button_matches_the_config(visitor, page):
    """With launch_buttons.colab_url set, every chapter opens its own notebook on Colab; without it, none does."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    colab = (config.get("launch_buttons", {}).get("colab_url") or "").rstrip("/")
    repository = config["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    links = [link["url"] for link in visitor.visit(page).description["links"]
             if "colab.research.google.com" in link["url"] or (colab and link["url"].startswith(colab))]
    if not colab:
        assert not links, f"{page}: Colab links although _config.yml sets no colab_url: {links}"
        return
    expected = f"{colab}/github/{repository}/blob/{config['repository'].get('branch', 'main')}/{page[:-5]}.ipynb"
    assert links == [expected], f"{page}: Colab button {links}, expected [{expected!r}]"
    notebook = nbformat.read(SITE / "_sources" / f"{page[:-5]}.ipynb", as_version=4)
    assert colab_cell.is_current(notebook), (
        f"{page} has an 'Open in Colab' button, but its notebook does not start with the cell that installs MXNet "
        "there: run `python tools/colab_cell.py` (or remove colab_url from _config.yml)")


def test_reproduce_page_lists_every_experiment_with_its_chapter(visitor, base_url):
    """The appendix's table is read from the registry: every experiment, linked to the chapter it comes from."""
    from regbook import runs

    visitor.page.goto(base_url + "book/reproduce.html", wait_until="load")
    rows = table_rows(visitor.page, "div.experiment-list")
    listed = {cells[0].split()[1]: url.split("#")[0].removeprefix(base_url) for cells, url in rows}
    registry = {name: exp for name, exp in runs.all_experiments().items() if name == exp.name}
    assert set(listed) == set(registry), f"listed {sorted(listed)} != registered {sorted(registry)}"
    for name, exp in registry.items():
        assert listed[name] == f"notebooks/{exp.run.__module__.rsplit('.', 1)[-1]}.html", (name, listed[name])


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_exercises_are_numbered_per_chapter(visitor, base_url, page):
    visitor.page.goto(base_url + page, wait_until="load")
    numbers = visitor.page.eval_on_selector_all(
        "div.exercise > p.admonition-title .caption-number", "spans => spans.map(s => s.textContent.trim())")
    assert numbers == [f"Exercise {k}" for k in range(1, len(numbers) + 1)], numbers
