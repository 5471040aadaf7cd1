"""book/references.bib and the {cite} roles of the pages in _toc.yml agree: nothing missing, nothing unused.

The references page lists the whole file (``:all:``), so an entry nobody cites would still be shown; Sphinx
only warns about the missing direction. Keys cited only in files outside _toc.yml do not count as cited,
because the site does not show those files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from book_sources import BIBLIOGRAPHY, ROOT, bib_keys, cited_keys, markdown_blocks, toc_files


def citations(files: list[Path]) -> dict[str, list[str]]:
    """Cited key -> the files (relative to the repository) that cite it."""
    where: dict[str, list[str]] = {}
    for path in files:
        for block in markdown_blocks(path):
            for key in cited_keys(block):
                name = str(path.relative_to(ROOT))
                if name not in where.setdefault(key, []):
                    where[key].append(name)
    return where


@pytest.fixture(scope="module")
def keys() -> list[str]:
    return bib_keys(BIBLIOGRAPHY.read_text(encoding="utf-8"))


def test_cite_roles_are_read_in_every_form():
    text = ("{cite}`a2020x` and {cite:p}`b2021y, c2022z` and {cite:t}`{see}d2019w{p. 3}` "
            "and {footcite}`e2018v`; not `{cite}` alone")
    assert cited_keys(text) == ["a2020x", "b2021y", "c2022z", "d2019w", "e2018v"]
    assert bib_keys("@article{k1,\n title={x}}\n@string{s = {y}}\n@Book{ k2 ,\n}") == ["k1", "k2"]


def test_bibliography_has_no_duplicate_keys(keys):
    duplicates = sorted(key for key, count in Counter(keys).items() if count > 1)
    assert not duplicates, f"keys defined more than once in {BIBLIOGRAPHY.name}: {duplicates}"


def test_every_cited_key_is_in_the_bibliography(keys):
    missing = {key: files for key, files in citations(toc_files()).items() if key not in keys}
    assert not missing, (f"cited but not in {BIBLIOGRAPHY.relative_to(ROOT)} (append a BibTeX entry): "
                         + "; ".join(f"{key} (in {', '.join(files)})" for key, files in sorted(missing.items())))


def test_every_key_in_the_bibliography_is_cited(keys):
    cited = citations(toc_files())
    unused = [key for key in keys if key not in cited]
    if unused:
        elsewhere = citations(sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md")))
        notes = [f"{key} (cited only in {', '.join(elsewhere[key])}, not in _toc.yml)" if key in elsewhere
                 else key for key in unused]
        pytest.fail(f"in {BIBLIOGRAPHY.relative_to(ROOT)} but cited by no page of the book "
                    f"(cite it with {{cite}}`key` where it is used, or remove it): {'; '.join(notes)}")
