"""Markdown (.md, .markdown) to plain text, with YAML front matter as metadata.

markdown-it-py parses the Markdown (CommonMark with GFM tables and
strikethrough), imported lazily like every format library; ``markdown_to_text``
walks its tokens and writes what ``corpus.clean`` expects: one plain line per
paragraph, heading, list item or table row, blocks separated by a blank line.
The HTML reader uses it too, because trafilatura hands back Markdown.

>>> markdown_to_text("# Redness\\n\\n1. Is **normal** and fades\\n   within days.\\n", Path("a.md"))  # doctest: +SKIP
'Redness\\n\\n1. Is normal and fades within days.'
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.corpus.formats.common import Source, require
from assistant.corpus.formats.encoding import decode, newlines
from assistant.corpus.formats.metadata import front_matter
from assistant.corpus.formats.unwrap import unwrap

__all__ = ["markdown_to_text", "read_markdown"]

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")
# Not Markdown, but what pasted text uses: "• item" is read as a bullet.
_DOT_BULLET = re.compile(r"^•\s+(?:\[[ xX]\]\s+)?")
# What is left of a table's |---|:--:| line when the table is malformed and
# markdown-it reads it as a paragraph.
_DELIMITER_ROW = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?")


def read_markdown(path: Path, data: bytes) -> Source:
    """The body as plain text, the front matter as metadata (see ``metadata.front_matter``)."""
    metadata, body = front_matter(path, newlines(decode(path, data)))
    return Source(text=markdown_to_text(body, path), metadata=metadata)


def markdown_to_text(markdown: str, path: Path) -> str:
    """Markdown -> one plain line per paragraph, heading, list item or table row.

    Wrapped lines are joined (``unwrap``); ordered items keep their number
    ("7. Fever or Chills"); task-list boxes, table delimiter rows, fenced code,
    HTML comments and tags, link definitions, images and horizontal rules are
    dropped; emphasis, code spans and links keep their text; quotes are read as
    their text; entities are unescaped. Indented "code" and HTML blocks keep
    their text: in an article they are pasted prose far more often than code.
    ``path`` only names the file if markdown-it-py is missing (a CorpusError).
    """
    parser = _parser(require("markdown_it", "markdown-it-py", path))
    # Comments can span lines and hide anything ("<!-- editor's note ... -->"); an
    # unclosed one hides the rest of the file, as it would in a browser. NUL goes
    # too: markdown-it would make it "\ufffd", and cleaning drops control characters.
    markdown = _COMMENT.sub("", markdown).replace("\x00", "")
    return "\n\n".join(block for block in _blocks(parser, markdown) if block)


@lru_cache(maxsize=1)
def _parser(markdown_it: Any) -> Any:
    # subtle: the entity rule is off and _plain unescapes each line once instead,
    # so "&amp;lt;" reads "&lt;" and "&copy 2024" (no semicolon) reads "© 2024".
    # maxNesting: CommonMark's preset drops whatever is nested over 20 deep (quotes,
    # lists); markdown-it's own default of 100 keeps more of a badly pasted file.
    parser = markdown_it.MarkdownIt("commonmark", {"maxNesting": 100})
    parser.enable(["table", "strikethrough"]).disable("entity")
    # Only the text of a link is kept, never its address, so no address is unsafe:
    # "[x](javascript:...)" reads "x" rather than its markup.
    parser.validateLink = lambda url: True
    return parser


def _blocks(parser: Any, markdown: str, nested: bool = False) -> list[str]:
    """The plain blocks of ``markdown``, empty ones included (the caller drops them)."""
    tokens = parser.parse(markdown)
    blocks: list[str] = []
    row: list[str] = []
    item: str | None = None  # the marker of the list item whose first paragraph comes next
    for i, token in enumerate(tokens):
        kind = token.type
        if kind == "list_item_open":
            item = f"{token.info}{token.markup} " if token.markup in (".", ")") else ""
            continue
        if kind == "paragraph_open":
            continue
        marker, item = item, None
        if kind == "tr_open":
            row = []
        elif kind == "tr_close":
            blocks.append(" | ".join(cell for cell in row if cell))
        elif kind in ("code_block", "html_block"):
            text = token.content if kind == "code_block" else _TAG.sub("", token.content)
            blocks.extend(_raw_blocks(parser, text, nested))
        elif kind == "inline":
            opener = tokens[i - 1]
            lines = _inline_lines(token.children or ())
            if opener.type in ("th_open", "td_open"):
                row.append(" ".join(lines).strip())
            elif opener.type == "heading_open" and opener.markup[0] in "=-":
                # A setext underline makes a heading of the line above it only; the
                # lines before it are the paragraph they were written as.
                blocks.extend(_paragraph(lines[:-1]))
                blocks.append(lines[-1])
            elif opener.type == "heading_open":
                blocks.append(" ".join(lines).strip())
            else:
                if marker:
                    lines[0] = f"{marker}{lines[0]}".strip()
                elif marker == "" and _CHECKBOX.match(token.content):  # an escaped "\[x]" is text
                    lines[0] = _CHECKBOX.sub("", lines[0])
                blocks.extend(_paragraph(lines, item=marker is not None))
        # fences, rules and the open/close tokens of lists, quotes and tables add no text
    return blocks


def _raw_blocks(parser: Any, text: str, nested: bool) -> list[str]:
    """Indented code or an HTML block with its tags removed, read as the Markdown it usually is.

    subtle: parsed once more, not recursively, since what is left can again be an
    HTML block ("<!DOCTYPE html>" is one and has no tag to remove).
    """
    if not nested:
        return _blocks(parser, text, nested=True)
    return [line for part in re.split(r"\n\s*\n", text) for line in _paragraph([_plain(s) for s in part.split("\n")])]


def _inline_lines(children: Sequence[Any]) -> list[str]:
    """The plain text of an inline token, one entry per source line (soft or hard break)."""
    lines: list[list[str]] = [[]]
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            lines.append([])
        elif child.type in ("text", "text_special", "code_inline"):
            lines[-1].append(child.content)
        # images, raw HTML and the markup of emphasis, links and code spans add nothing
    return [_plain("".join(parts)) for parts in lines]


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _paragraph(lines: list[str], item: bool = False) -> list[str]:
    """One Markdown paragraph's lines as blocks: wrapped lines joined, "•" items and "|" rows apart.

    With ``item`` the first line is a list item's text, taken as it is.
    """
    blocks: list[str] = []
    group: list[str] = []

    def flush() -> None:
        blocks.extend(unwrap(group))
        group.clear()

    for n, line in enumerate(lines):
        if not line:
            continue  # an image alone on its line: nothing to join, nothing to split
        if item and n == 0:
            group.append(line)
        elif _DELIMITER_ROW.fullmatch(line):
            flush()
        elif bullet := _DOT_BULLET.match(line):
            flush()
            if rest := line[bullet.end() :]:
                group.append(rest)
        elif line.startswith("|"):
            # A table markdown-it did not take (trafilatura writes a one-row table
            # without a delimiter row): read it row by row all the same.
            flush()
            blocks.append(" | ".join(cell for cell in map(str.strip, line.strip("|").split("|")) if cell))
        else:
            group.append(line)
    flush()
    return blocks
