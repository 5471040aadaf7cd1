"""The whole book as one PDF (``make pdf``): pages, every chapter, figures, typeset maths, no solutions.

The checks read the PDF with poppler-utils (``pdfinfo``, ``pdftotext``, ``pdfimages``). They are skipped when
the PDF has not been built (``make test`` builds it first; in CI, with ``CI`` set, a missing PDF fails).
The helpers that judge the text are tested on small made-up inputs first, so each check is seen to fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from book_sources import ROOT, markdown_blocks, toc_files

PDF = Path(os.environ.get("REGBOOK_PDF", ROOT / "_build" / "regularization-hands-on.pdf"))
MIN_PAGES, MIN_FIGURES = 100, 30

# LaTeX that MathJax should have turned into maths: if it is in the PDF's text, a formula was printed raw.
RAW_LATEX = re.compile(r"\\(?:frac|dfrac|mathbf|mathbb|mathrm|operatorname|begin\{|end\{|sqrt|sum_|left[(\[|]|"
                       r"right[)\]|]|[()\[\]])|\$\$")


def title_of(path: Path) -> str:
    """The page title of a source file: its first level-1 markdown heading, without MyST markup."""
    for block in markdown_blocks(path):
        for line in block.splitlines():
            if line.startswith("# "):
                title = re.sub(r"\{[\w:-]+\}`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", line[2:])  # {term}`x <y>` -> x
                return re.sub(r"[*_`]", "", title).strip()
    raise ValueError(f"{path} has no '# ' title")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "")).strip()


def code_text() -> str:
    """The code the book shows (notebook code cells, fenced blocks of the pages), whitespace collapsed."""
    parts = []
    for path in toc_files():
        if path.suffix == ".ipynb":
            import json

            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            parts += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        parts += re.findall(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1", path.read_text(encoding="utf-8"), re.S | re.M)
    return normalise(" ".join(p if isinstance(p, str) else p[1] for p in parts))


def raw_latex_lines(text: str, code: str = "") -> list[str]:
    """The lines of the PDF's text with LaTeX in them, except lines of code the book shows (``$\\lambda$`` in a
    plotting label is code, not a formula left untypeset)."""
    return [line.strip() for line in text.splitlines()
            if RAW_LATEX.search(line) and normalise(line) not in code]


def image_rows(listing: str) -> list[list[str]]:
    """The images (not soft masks) in ``pdfimages -list`` output."""
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    return [row for row in rows if len(row) > 2 and row[2] == "image"]


def missing_titles(text: str, titles: list[str]) -> list[str]:
    flat = normalise(text)
    return [title for title in titles if normalise(title) not in flat]


# --- the helpers, on made-up inputs ------------------------------------------------------------------------------

def test_raw_latex_is_found_outside_code_only():
    text = "The mean is\n\\frac{1}{n} \\sum_i x_i\nax.set_xlabel(r\"$\\frac{1}{2}$\")\n$$ y = x $$\nplain words"
    code = normalise('ax.set_xlabel(r"$\\frac{1}{2}$")')
    assert raw_latex_lines(text, code) == ["\\frac{1}{n} \\sum_i x_i", "$$ y = x $$"]
    assert raw_latex_lines("p = 0.5, so 1/(1 − p) = 2", code) == []


def test_image_rows_skip_soft_masks():
    listing = ("page   num  type   width height color comp bpc  enc interp  object ID x-ppi y-ppi size ratio\n"
               "--------------------------------------------------------------------------------------------\n"
               "   5     0 image     640   480  rgb     3   8  image  no        12  0    96    96 20.1K 2.2%\n"
               "   5     1 smask     640   480  gray    1   8  image  no        12  0    96    96  1.1K 0.3%\n"
               "   9     2 image     800   300  rgb     3   8  jpeg   no        30  0    96    96 40.0K 5.5%\n")
    assert [row[0] for row in image_rows(listing)] == ["5", "9"]


def test_titles_are_read_from_the_sources_and_looked_for_across_line_breaks():
    titles = [title_of(path) for path in toc_files()]
    assert len(titles) == len(toc_files()) and all(titles)
    text = "\n".join(titles).replace(" ", "\n")  # pdftotext may break a title anywhere
    assert missing_titles(text, titles) == []
    assert missing_titles(text.replace(titles[-1].split()[0], ""), titles) == [titles[-1]]


# --- the PDF ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pdf() -> Path:
    if not PDF.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"no PDF at {PDF}: `make test` runs `make pdf` before the tests")
        pytest.skip(f"the PDF has not been built ({PDF} is missing): run `make pdf`")
    for tool in ("pdfinfo", "pdftotext", "pdfimages"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: install Debian's poppler-utils (apt-get install poppler-utils)")
    return PDF


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def text(pdf) -> str:
    return run("pdftotext", "-enc", "UTF-8", str(pdf), "-")


def test_the_pdf_has_enough_pages(pdf):
    pages = int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(pdf)), re.M).group(1))
    assert pages >= MIN_PAGES, f"{pdf} has {pages} pages; the whole book needs at least {MIN_PAGES}"


def test_every_chapter_title_is_in_the_pdf(text):
    titles = [title_of(path) for path in toc_files()]
    assert not missing_titles(text, titles), f"chapters missing from the PDF: {missing_titles(text, titles)}"


def test_the_pdf_has_the_figures(pdf):
    images = image_rows(run("pdfimages", "-list", str(pdf)))
    assert len(images) >= MIN_FIGURES, f"{pdf} has {len(images)} images; the book has at least {MIN_FIGURES} figures"


def test_no_raw_latex_in_the_pdf(text):
    raw = raw_latex_lines(text, code_text())
    assert not raw, f"{len(raw)} line(s) of the PDF show LaTeX that MathJax did not typeset: {raw[:10]}"


def test_the_pdf_has_the_exercises_but_not_their_solutions(text):
    flat = normalise(text)
    assert re.search(r"Exercise \d+", flat), "no exercise in the PDF"
    assert not re.search(r"Solution to Exercise \d+", flat), "a solution was printed"
    # the graded exercises' solution code sits between "### BEGIN SOLUTION" lines; only the prose may name them
    in_prose = sum(normalise(block).count("BEGIN SOLUTION") for path in toc_files() for block in markdown_blocks(path))
    assert flat.count("BEGIN SOLUTION") <= in_prose, "the code of a graded exercise's solution was printed"
