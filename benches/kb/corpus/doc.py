"""A document as a list of blocks (headings, paragraphs, lists, tables), its
rendering to Markdown, plain text or HTML, and the questions drafted against
its passages."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .world import cn_number


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Items:
    items: list[str]
    ordered: bool = False


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Row:
    """One row of a table, as the passage a question points at."""

    table: Table
    index: int


@dataclass
class Draft:
    """A question about one passage: `evidence` is a sentence, paragraph or
    list item of the document (verbatim), or a table row."""

    question: str
    answer: str
    evidence: str | Row
    kind: str  # "identifier" | "paraphrase" | "numeric"
    fact: str = ""  # the parameter it asks about; editions ask only what changed


@dataclass
class Doc:
    """A document before it has a file name. Documents of one `family` (two
    editions of a policy, one contract template for two counterparties, two
    sibling models) are each other's hard distractors."""

    lang: str
    kind: str
    family: str
    title: str
    ext: str = "md"
    blocks: list = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    decoys: list[str] = field(default_factory=list)  # other families that look like this one's answers

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(Heading(text, level))

    def p(self, *sentences: str) -> str:
        """Adds a paragraph made of `sentences`; returns its text."""
        sep = "" if self.lang == "zh" else " "
        text = sep.join(s for s in sentences if s)
        self.blocks.append(Para(text))
        return text

    def items(self, items: list[str], ordered: bool = False) -> list[str]:
        self.blocks.append(Items(list(items), ordered))
        return items

    def table(self, header: list[str], rows: list[list[str]]) -> Table:
        table = Table(header, [list(r) for r in rows])
        self.blocks.append(table)
        return table

    def ask(self, question: str, answer: str, evidence: str | Row, kind: str, fact: str = "") -> None:
        self.drafts.append(Draft(question, answer, evidence, kind, fact))

    def row(self, table: Table, label: str) -> Row:
        """The row of `table` whose first cell is `label`."""
        return Row(table, [r[0] for r in table.rows].index(label))


class Articles:
    """Numbers the articles of a regulation-style document across its
    chapters: 第一条, 第二条 ... or Article 1, Article 2 ..."""

    def __init__(self, doc: Doc):
        self.doc = doc
        self.n = 0
        self.chapters = 0

    def chapter(self, title: str) -> None:
        """A chapter heading; Chinese ones are numbered here (第三章　监督检查)."""
        self.chapters += 1
        if self.doc.lang == "zh":
            title = f"第{cn_number(self.chapters)}章　{title}"
        self.doc.h(title)

    def label(self, n: int) -> str:
        return f"第{cn_number(n)}条" if self.doc.lang == "zh" else f"Article {n}"

    def art(self, *sentences: str) -> tuple[str, str]:
        """Adds the next article; returns its label and its paragraph's text."""
        self.n += 1
        label = self.label(self.n)
        sep = "　" if self.doc.lang == "zh" else ". "
        body = ("" if self.doc.lang == "zh" else " ").join(s for s in sentences if s)
        return label, self.doc.p(label + sep + body)


def render(doc: Doc) -> str:
    """The file's text in the document's format."""
    return {"md": _markdown, "txt": _plain, "html": _html}[doc.ext](doc)


def evidence_text(doc: Doc, evidence: str | Row) -> str | None:
    """The evidence as it reads in the rendered file; None for a table row of
    an HTML file (its cells are separated by markup)."""
    if isinstance(evidence, str):
        return evidence
    if doc.ext == "html":
        return None
    return _pipe_row(evidence.table.rows[evidence.index])


def plain_text(text: str, ext: str) -> str:
    """The readable text of a rendered file: HTML loses its tags."""
    if ext != "html":
        return text
    body = re.sub(r"(?s)<head>.*?</head>", " ", text)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _pipe_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table_lines(table: Table) -> list[str]:
    rule = "|" + "|".join("---" for _ in table.header) + "|"
    return [_pipe_row(table.header), rule, *(_pipe_row(r) for r in table.rows)]


def _list_lines(block: Items, numbered: str) -> list[str]:
    if block.ordered:
        return [numbered.format(n=i + 1) + item for i, item in enumerate(block.items)]
    return ["- " + item for item in block.items]


def _markdown(doc: Doc) -> str:
    out = [f"# {doc.title}"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Items):
            out.append("\n".join(_list_lines(block, "{n}. ")))
        elif isinstance(block, Table):
            out.append("\n".join(_table_lines(block)))
    return "\n\n".join(out) + "\n"


def _plain(doc: Doc) -> str:
    width = len(doc.title) * (1 if doc.lang == "en" else 2)
    out = [doc.title + "\n" + "=" * width]
    for block in doc.blocks:
        if isinstance(block, Heading):
            rule = "-" if block.level == 2 else "~"
            width = len(block.text) * (1 if doc.lang == "en" else 2)
            out.append(block.text + "\n" + rule * width)
        elif isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Items):
            out.append("\n".join(_list_lines(block, "{n}) ")))
        elif isinstance(block, Table):
            out.append("\n".join(_table_lines(block)))
    return "\n\n".join(out) + "\n"


def _html(doc: Doc) -> str:
    esc = lambda s: html.escape(s, quote=False)  # noqa: E731
    lang = "zh-CN" if doc.lang == "zh" else "en"
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        f'<head><meta charset="utf-8"><title>{esc(doc.title)}</title></head>',
        "<body>",
        f"<h1>{esc(doc.title)}</h1>",
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Items):
            tag = "ol" if block.ordered else "ul"
            out.append(f"<{tag}>")
            out.extend(f"  <li>{esc(item)}</li>" for item in block.items)
            out.append(f"</{tag}>")
        elif isinstance(block, Table):
            out.append("<table>")
            out.append("  <tr>" + "".join(f"<th>{esc(c)}</th>" for c in block.header) + "</tr>")
            for row in block.rows:
                out.append("  <tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
