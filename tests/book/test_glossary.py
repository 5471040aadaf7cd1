"""book/glossary.md and the chapters agree: every linked term exists, every term has its Chinese, and a chapter
that links a term does so at the term's first mention.

Sphinx's ``-n -W`` build also fails on a {term} that the glossary lacks; this test says so in a second
without a build, and checks what Sphinx cannot: the Chinese translation and the link at first use.
"""

from __future__ import annotations

from collections import Counter

import pytest
from book_sources import (
    CJK,
    GLOSSARY,
    ROOT,
    glossary_entries,
    markdown_blocks,
    prose_with_term_links,
    term_pattern,
    toc_files,
)

CHAPTERS = [path for path in toc_files() if path.suffix == ".ipynb"]


@pytest.fixture(scope="module")
def entries():
    found = glossary_entries(GLOSSARY.read_text(encoding="utf-8"))
    assert found, f"no ```{{glossary}} block found in {GLOSSARY}"
    return found


@pytest.fixture(scope="module")
def terms(entries) -> dict[str, str]:
    """Lower-cased term -> the term as written (Sphinx matches glossary terms case-insensitively)."""
    return {term.lower(): term for entry in entries for term in entry.terms}


def mentioned_before_linked(blocks: list[str], terms: list[str]) -> dict[str, str]:
    """Terms that a chapter links with {term} but mentions earlier in plain prose: term -> that mention.

    Longer terms are matched first and their mentions masked, so "inverted dropout" is not also a mention of
    "dropout". Positions are (markdown block, offset). Terms the chapter never links are not reported.
    """
    first_link: dict[str, tuple[int, int]] = {}
    first_mention: dict[str, tuple[tuple[int, int], str]] = {}
    for index, block in enumerate(blocks):
        prose, links = prose_with_term_links(block)
        for offset, target in links:
            first_link.setdefault(target.lower(), (index, offset))
        for term in sorted(terms, key=len, reverse=True):
            pattern = term_pattern(term)
            for match in pattern.finditer(prose):
                if term.lower() not in first_mention:
                    context = " ".join(prose[max(0, match.start() - 40):match.end() + 40].split())
                    first_mention[term.lower()] = ((index, match.start()), context)
            prose = pattern.sub(lambda m: " " * len(m.group(0)), prose)
    return {term: context for term, (position, context) in first_mention.items()
            if term in first_link and first_link[term] > position}


def test_glossary_parser_reads_terms_and_definitions():
    text = "## A\n\n```{glossary}\nfoo\nfoos\n  福. Definition\n  goes on.\n\nbar\n  巴. Other.\n```\n"
    parsed = glossary_entries(text)
    assert [(e.terms, e.definition, e.section) for e in parsed] == [
        (["foo", "foos"], "福. Definition goes on.", "A"), (["bar"], "巴. Other.", "A")]


def test_first_use_check_finds_links_that_come_too_late():
    blocks = ["# Dropout\n\nWe use dropout here, and `dropout` in code.", "Now {term}`dropout` and inverted dropout."]
    assert list(mentioned_before_linked(blocks, ["dropout", "inverted dropout"])) == ["dropout"]
    blocks = ["# Dropout\n\n$dropout$ `dropout`\n```python\ndropout\n```", "{term}`Dropout <dropout>`, dropouts."]
    assert mentioned_before_linked(blocks, ["dropout"]) == {}


def test_every_term_is_defined_once(entries):
    counts = Counter(term.lower() for entry in entries for term in entry.terms)
    twice = sorted(term for term, count in counts.items() if count > 1)
    assert not twice, f"terms defined more than once in {GLOSSARY.name} (Sphinx warns): {twice}"


def test_every_definition_starts_with_its_chinese_term(entries):
    """The Chinese comes first: in the definition's first sentence ("过拟合. ..." or "RNNDrop (按序列...). ...")."""
    missing = [f"{', '.join(e.terms)} (line {e.line}, section {e.section!r})" for e in entries
               if not CJK.search(e.definition.split(". ")[0])]
    assert not missing, (f"glossary entries without the Chinese term at the start of their definition "
                         f"(write '  中文术语. One-line definition.'): {'; '.join(missing)}")


@pytest.mark.parametrize("path", toc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_linked_term_is_in_the_glossary(path, terms):
    targets = [target for block in markdown_blocks(path) for _, target in prose_with_term_links(block)[1]]
    unknown = sorted({t for t in targets if t.lower() not in terms})
    assert not unknown, (f"{path.relative_to(ROOT)} links terms that {GLOSSARY.relative_to(ROOT)} does not "
                         f"define (append them to a ```{{glossary}} block of your chapter): {unknown}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_chapter_links_each_term_at_its_first_use(path, terms):
    late = mentioned_before_linked(markdown_blocks(path), list(terms.values()))
    assert not late, (f"{path.relative_to(ROOT)} links these glossary terms only after an earlier plain "
                      "mention; move the {term}`...` link to the first mention: "
                      + "; ".join(f"{terms[t]!r} first in '...{context}...'" for t, context in sorted(late.items())))
