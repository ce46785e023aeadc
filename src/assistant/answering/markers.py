"""The ``[n]`` citation markers of an answer: the one place they are read and written.

Answers are written ``"Redness is normal. [1] Swelling fades. [2][3]"``. Readers are
lenient about what a language model may write instead: ``[1, 2]``, ``[1; 2]``,
``[ 1 ]``, ``[1] [2]``.

>>> cited("Redness fades [1, 2] and returns [2].")
(1, 2)
>>> strip("Redness fades [1].")
'Redness fades.'
>>> write([1, 3])
'[1][3]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBERS = r"\d+(?:\s*[,;]\s*\d+)*"
# One marker; group 1 holds its numbers.
MARKER = re.compile(rf"\[\s*({_NUMBERS})\s*\]")
# One or more markers in a row, with the space before them (no groups of its own).
RUN = rf"(?:\s*\[\s*{_NUMBERS}\s*\])+"
MARKER_RUN = re.compile(RUN)
_NUMBER = re.compile(r"\d+")


def numbers(markers: str) -> list[int]:
    """Every number in a marker or a run of markers, as written: ``"[1][2, 3]"`` -> ``[1, 2, 3]``."""
    return [int(n) for n in _NUMBER.findall(markers)]


def cited(sentence: str) -> tuple[int, ...]:
    """Passage numbers cited in a sentence, in order of first appearance, without repeats."""
    return tuple(dict.fromkeys(n for match in MARKER.finditer(sentence) for n in numbers(match.group(1))))


def strip(text: str) -> str:
    """The text without its markers, tidied: no space left before punctuation, every run of
    white space one space."""
    text = MARKER.sub("", text)
    text = re.sub(r"\s+([.!?,;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def write(passages: Iterable[int]) -> str:
    """The markers citing ``passages``, as answers show them."""
    return "".join(f"[{n}]" for n in passages)
