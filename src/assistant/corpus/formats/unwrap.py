"""Join lines that were hard-wrapped inside a paragraph: the one unwrapper of the package.

Three callers need it: the Markdown reader (lines of one Markdown paragraph),
the PDF reader (lines of one page) and ``corpus.cleaning`` (lines of any file,
plain text included). They differ in how sure they are that a line break is
layout rather than the author's: a PDF or Markdown line is wrapped unless it
plainly ends a paragraph, a plain-text line is a paragraph unless it plainly
continues one. ``wrapped`` says which.

>>> unwrap(["Keep skin clean and", "avoid make-up.", "Wear sunscreen."])
['Keep skin clean and avoid make-up.', 'Wear sunscreen.']
>>> unwrap(["Avoid make-up.", "then rest"]), unwrap(["Avoid make-up.", "then rest"], wrapped=False)
(['Avoid make-up. then rest'], ['Avoid make-up.', 'then rest'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["unwrap"]

_CONTINUES_AFTER = re.compile(r"(?:[,(&/–—]|\b(?:and|or|but|the|a|an|of|to|in|on|with|for|by|your|if))$")
_BLOCK_START = re.compile(r"^(?:\d{1,3}[.)]\s|[-*+•]\s)")
_HYPHENATED = re.compile(r"[A-Za-z]-$")
# subtle: the two rules disagree on "’". As the last character of a full-width
# PDF line it usually closes a quotation, but at the end of a plain-text line it
# is as often an apostrophe ("the clients’"), so there it does not end a sentence.
_SENTENCE_END = ".!?:;\"”’)"
_PLAIN_SENTENCE_END = ".!?:;\"”)"


def unwrap(lines: Iterable[str], *, wrapped: bool = True, width: int = 0) -> list[str]:
    """Join wrapped lines; return one line per paragraph, blank lines dropped.

    ``lines`` are stripped; an empty one ends a paragraph and is never joined
    across. A line starting a list item ("1. ", "- ", "• ") always starts a new
    paragraph.

    With ``wrapped`` (Markdown and PDF), a line continues the previous one when
    it starts in lower case or with ",;:)", when the previous one cannot end a
    sentence ("…and", "…,"), or, with ``width`` (the longest line on a PDF page),
    when the previous line runs near the full width without ending a sentence;
    "inflam-" + "mation" is mended to "inflammation". A short line followed by a
    capital is a heading or a paragraph end.

    Without ``wrapped`` (plain text, where each line is a paragraph as saved
    from the browser), a line continues the previous one only when it starts in
    lower case and the previous one has no closing punctuation.

    subtle: a line that ends a sentence is never joined to a capitalised next
    line. At worst a paragraph is split between two sentences; the other way, a
    heading or a whole paragraph would be glued onto the next one.
    """
    out: list[str] = []
    open_paragraph = False  # False after a blank line: out[-1] must not be continued
    for line in lines:
        if not line:
            open_paragraph = False
            continue
        joined = _join(out[-1], line, wrapped, width) if open_paragraph else None
        if joined is None:
            out.append(line)
        else:
            out[-1] = joined
        open_paragraph = True
    return out


def _join(prev: str, line: str, wrapped: bool, width: int) -> str | None:
    """``prev`` and ``line`` as one line, or None when ``line`` starts a new paragraph."""
    if _BLOCK_START.match(line):
        return None
    if not wrapped:
        return f"{prev} {line}" if prev[-1] not in _PLAIN_SENTENCE_END and line[0].islower() else None
    if _HYPHENATED.search(prev) and line[0].islower():
        return prev[:-1] + line  # "inflam-" + "mation"
    if (
        line[0].islower()
        or line[0] in ",;:)"
        or _CONTINUES_AFTER.search(prev)
        or (width and len(prev) >= 0.75 * width and prev[-1] not in _SENTENCE_END)
    ):
        return f"{prev} {line}"
    return None
