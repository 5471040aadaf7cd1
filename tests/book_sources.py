"""The book's sources as the site sees them: the files in _toc.yml, their markdown, roles, glossary and BibTeX.

Shared by test_glossary.py and test_bibliography.py. Markdown comes from ``.md`` pages and from the markdown
cells of ``.ipynb`` chapters, one block per cell, in order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "_toc.yml"
GLOSSARY = ROOT / "book" / "glossary.md"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"

# {cite}`a,b`, {cite:p}`a`, {cite:t}`a`, {footcite}`a`, with sphinxcontrib-bibtex's optional {pre}/{post} text.
CITE_ROLE = re.compile(r"\{(?:foot)?cite(?::\w+)?\}`([^`]*)`")
# {term}`dropout`, {term}`Dropout <dropout>`
TERM_ROLE = re.compile(r"\{term\}`([^`]*)`")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def toc_files(toc: Path = TOC) -> list[Path]:
    """Every source file the table of contents includes (root first), with its real suffix."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    names: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    names.append(data["root"])
    walk(data)
    files = []
    for name in names:
        for suffix in ("", ".md", ".ipynb"):
            path = toc.parent / f"{name}{suffix}"
            if path.is_file():
                files.append(path)
                break
        else:
            raise FileNotFoundError(f"_toc.yml names {name!r}, but there is no {name}.md or {name}.ipynb")
    return files


def markdown_blocks(path: Path) -> list[str]:
    """The markdown of a source file: the whole page for .md, one string per markdown cell for .ipynb."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


def cited_keys(markdown: str) -> list[str]:
    """The BibTeX keys cited in a markdown string, in order (repeats kept)."""
    keys = []
    for match in CITE_ROLE.finditer(markdown):
        content = re.sub(r"\{[^}]*\}", "", match.group(1))  # drop {pre}/{post} texts
        keys += [key.strip() for key in content.split(",") if key.strip()]
    return keys


def bib_keys(text: str) -> list[str]:
    """The entry keys of a BibTeX file, in order (repeats kept), without @string/@comment/@preamble."""
    return [key for kind, key in re.findall(r"@(\w+)\s*[{(]\s*([^,\s]+)\s*,", text)
            if kind.lower() not in {"string", "comment", "preamble"}]


def term_target(role_content: str) -> str:
    """The glossary term a {term} role points to: ``text <target>`` or the text itself."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", role_content, flags=re.S)
    return (match.group(2) if match else role_content).strip()


@dataclass
class GlossaryEntry:
    terms: list[str]
    definition: str
    section: str
    line: int


def glossary_entries(text: str) -> list[GlossaryEntry]:
    """The entries of every ```{glossary} block: term lines (unindented) and their indented definition."""
    entries: list[GlossaryEntry] = []
    section, fence, current = "", None, None
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is None:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            opening = re.match(r"^(`{3,}|:{3,})\{glossary\}", line)
            if opening:
                fence, current = opening.group(1), None
            continue
        if line.strip() == fence:
            fence = None
            continue
        if not line.strip() or line.lstrip().startswith(":") and current is None:
            continue  # blank line, or a directive option such as :sorted:
        if line[0] not in " \t":
            if current is None or current.definition:
                current = GlossaryEntry([], "", section, number)
                entries.append(current)
            current.terms.append(line.split(" : ")[0].strip())
        elif current is not None:
            current.definition += (" " if current.definition else "") + line.strip()
    return entries


def prose_with_term_links(markdown: str) -> tuple[str, list[tuple[int, str]]]:
    """Markdown reduced to the prose a reader reads, with every {term} role replaced by spaces.

    Returns the prose and the (offset, target) of each {term} link. Code (fenced and inline), maths, headings,
    directive fences and options, comments and other roles are blanked (replaced by spaces, so offsets hold).
    """
    links = [(m.start(), term_target(m.group(1))) for m in TERM_ROLE.finditer(markdown)]

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    text = TERM_ROLE.sub(blank, markdown)
    text = re.sub(r"\{[\w:.-]+\}`[^`]*`", blank, text)                  # other roles: cite, glue, doc, ref
    text = re.sub(r"(?ms)^(`{3,}|~{3,})(?!\{)[^\n]*\n.*?^\1[ \t]*$", blank, text)  # literal code blocks
    text = re.sub(r"(?m)^(`{3,}|:{3,})\{[^}]*\}.*$|^(`{3,}|:{3,})[ \t]*$", blank, text)  # directive fences
    text = re.sub(r"(?m)^:[\w-]+:.*$", blank, text)                     # directive options
    text = re.sub(r"(?s)\$\$.*?\$\$|\$[^$\n]+\$", blank, text)           # maths
    text = re.sub(r"`[^`\n]*`", blank, text)                             # inline code
    text = re.sub(r"(?m)^#{1,6} .*$", blank, text)                       # headings
    text = re.sub(r"(?s)<!--.*?-->", blank, text)                        # comments
    text = re.sub(r"\]\([^)]*\)", blank, text)                           # link targets (the text stays)
    return text, links


def term_pattern(term: str) -> re.Pattern:
    """A mention of ``term`` in prose: whole words, any case, plural allowed, hyphen or space alike."""
    words = [re.escape(word) for word in re.split(r"[\s-]+", term.strip())]
    return re.compile(r"(?<![\w-])" + r"[\s-]+".join(words) + r"(?:s|es)?(?![\w-])", re.IGNORECASE)
