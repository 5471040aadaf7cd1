"""book/sources.md describes the five source documents, and the pages of the book cite them by name.

The page has one section per document: a MyST label ``(source-...)=``, a ``## `` heading and a list of fields
(``- **Title:** ...``, ``- **Site:** ...``, ``- **Date:** ...``, ``- **Mirror file:** `NNN_....txt```).
The documents themselves live outside the repository, in ``../shared/seeds`` next to it; when that folder is
there, its README's table says which five files the page must describe. Without it the test falls back to the
five labels chapters link to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from book_sources import ROOT, markdown_blocks, toc_files

PAGE = ROOT / "book" / "sources.md"
SHARED = ROOT.parent / "shared" / "seeds"
LABELS = ["source-d2l-dropout-notes", "source-regularization-lecture", "source-fishc-dropout-thread",
          "source-dropout-overview", "source-dropout-methods-survey"]
REQUIRED_FIELDS = ("Title", "Site", "Date")
# How chapters must not name a source: by its number in the shared folder.
NUMBERED = re.compile(r"[Ss]eeds? 00\d|seeds/00|[Ss]ources? 00\d")


def sections(text: str) -> dict[str, dict]:
    """Label -> {"heading": ..., "fields": {name: value}, "body": ...} for every ``(label)=`` + heading."""
    found: dict[str, dict] = {}
    parts = re.split(r"(?m)^\(([\w-]+)\)=[ \t]*\n", text)
    for label, body in zip(parts[1::2], parts[2::2]):
        heading = re.match(r"#{1,6} (.+)", body)
        fields: dict[str, str] = {}
        # "- **Name:** value", the value running on over indented continuation lines
        for match in re.finditer(r"(?m)^- \*\*([^*:]+):\*\*(.*(?:\n[ \t]+\S.*)*)", body):
            fields[match.group(1).strip()] = " ".join(match.group(2).split())
        found[label] = {"heading": heading.group(1).strip() if heading else "", "fields": fields, "body": body}
    return found


def readme_files(readme: Path) -> list[str]:
    """The document files the shared README's table lists (first column)."""
    return re.findall(r"(?m)^\|\s*`?(\d{3}_[0-9a-f]+\.txt)`?\s*\|", readme.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page_sections() -> dict[str, dict]:
    assert PAGE.is_file(), f"{PAGE.relative_to(ROOT)} is missing"
    return sections(PAGE.read_text(encoding="utf-8"))


def test_section_parser_reads_labels_headings_and_fields(tmp_path):
    text = ("# Sources\n\nIntro.\n\n(source-a)=\n## A title\n\n- **Title:** \"甲\" (A)\n- **Site:** x,\n"
            "  continued\n- **Date:** not stated\n\nProse.\n\n(source-b)=\n## B\n\n- **Title:** b\n")
    parsed = sections(text)
    assert list(parsed) == ["source-a", "source-b"]
    assert parsed["source-a"]["heading"] == "A title"
    assert parsed["source-a"]["fields"] == {"Title": "\"甲\" (A)", "Site": "x, continued", "Date": "not stated"}
    assert parsed["source-b"]["fields"] == {"Title": "b"}
    readme = "| file | what |\n| --- | --- |\n| 000_05ee45a7836426c5.txt | notes |\n| `001_0a.txt` | x |\n"
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    assert readme_files(tmp_path / "README.md") == ["000_05ee45a7836426c5.txt", "001_0a.txt"]


def test_the_page_is_in_the_table_of_contents():
    assert PAGE in toc_files(), "add `- file: book/sources` to _toc.yml (Reference part, before book/references)"


def test_every_chapter_label_is_on_the_page(page_sections):
    missing = [label for label in LABELS if label not in page_sections]
    assert not missing, f"{PAGE.relative_to(ROOT)} lacks the sections chapters link to: {missing}"


def test_every_document_has_a_title_site_and_date(page_sections):
    """Each of the five documents (the shared README's files, else the five labels) has its three fields."""
    if (SHARED / "README.md").is_file():
        files = readme_files(SHARED / "README.md")
        assert len(files) == 5, f"expected five documents in {SHARED / 'README.md'}, found {files}"
        by_file = {section["fields"].get("Mirror file", "").strip("` "): label
                   for label, section in page_sections.items()}
        missing = [name for name in files if name not in by_file]
        assert not missing, (f"{PAGE.relative_to(ROOT)} has no section whose '- **Mirror file:**' field names "
                             f"{missing}")
        labels = [by_file[name] for name in files]
    else:
        labels = LABELS
    incomplete = {label: [field for field in REQUIRED_FIELDS if not page_sections[label]["fields"].get(field)]
                  for label in labels}
    incomplete = {label: fields for label, fields in incomplete.items() if fields}
    assert not incomplete, (f"sections of {PAGE.relative_to(ROOT)} without these fields (write 'not stated in "
                            f"the copy' when the document does not show one): {incomplete}")
    untitled = [label for label in labels if not page_sections[label]["heading"]]
    assert not untitled, f"sections without a '## ' heading right after their label: {untitled}"


def test_each_section_says_what_the_book_takes_and_corrects(page_sections):
    lacking = [label for label in LABELS
               if "What the book takes from it" not in page_sections[label]["body"]
               or "Where the book corrects it" not in page_sections[label]["body"]]
    assert not lacking, f"sections without 'What the book takes from it' / 'Where the book corrects it': {lacking}"


def test_source_references_point_to_the_page():
    """Every {ref}`source-...` in the book names a label that the sources page defines."""
    defined = set(sections(PAGE.read_text(encoding="utf-8")))
    unknown = {}
    for path in toc_files():
        for block in markdown_blocks(path):
            for match in re.finditer(r"\{ref\}`(?:[^`<]*<)?(source-[\w-]+)>?`", block):
                if match.group(1) not in defined:
                    unknown.setdefault(str(path.relative_to(ROOT)), []).append(match.group(1))
    assert not unknown, f"links to source sections that {PAGE.relative_to(ROOT)} does not define: {unknown}"


def test_the_page_pastes_no_sentence_of_a_source():
    """No 24-character stretch of the page's prose occurs in a source document (titles, URLs, code excepted)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not there")

    def squeeze(text: str) -> str:
        return re.sub(r"\s+", "", text)

    sources = {path.name: squeeze(path.read_text(encoding="utf-8")) for path in sorted(SHARED.glob("*.txt"))}
    prose = PAGE.read_text(encoding="utf-8")
    prose = re.sub(r"(?m)^- \*\*Title:\*\*.*(?:\n[ \t]+\S.*)*", "", prose)  # quoted titles are allowed
    prose = re.sub(r"<https?://[^>]*>|`[^`\n]*`", "", prose)             # URLs and code
    prose = squeeze(prose)
    window = 24
    copied = sorted({(name, prose[i:i + window]) for i in range(len(prose) - window + 1)
                     for name, text in sources.items() if prose[i:i + window] in text})
    assert not copied, f"{PAGE.relative_to(ROOT)} repeats source text verbatim: {copied[:10]}"


def test_no_page_names_a_source_by_its_number():
    """Chapters cite a source by title and site ({ref}`source-...`), never as "seed 001" or "seeds/001"."""
    found = []
    for path in toc_files():
        for index, block in enumerate(markdown_blocks(path)):
            for match in NUMBERED.finditer(block):
                context = " ".join(block[max(0, match.start() - 40):match.end() + 40].split())
                found.append(f"{path.relative_to(ROOT)} (markdown block {index}): '...{context}...'")
    assert not found, ("name the document by its title and site and link its section of book/sources.md "
                       "({ref}`source-...`) instead of its number:\n" + "\n".join(found))
