"""Text as the rule patterns are written for it: lower case, accent-free, contractions joined."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["COMBINING", "normalise"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})
_ELISION = re.compile(r"\b(qu|[ldjnmstc])'(?=[a-z])")
# Combining marks left by NFKD (e + U+0301 for "é"): dropping them removes the accents.
COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_JUNK = re.compile(r"[^\w\s.,;:!?/%°()+\-=&#\"'<>]")


def normalise(text: str, emoji: Mapping[str, str] | None = None) -> str:
    """Lower-case, accent-free, contraction-joined text that the rule patterns are written for.

    >>> normalise("J’ai de la FIÈVRE 🤒, can't sleep!!!", {"🤒": " fever "})
    'j ai de la fievre fever , cant sleep!'
    """
    for symbol, words in (emoji or {}).items():
        text = text.replace(symbol, words)
    text = re.sub(r"<[^>]{0,200}>", " ", text)  # HTML tags; their text content is kept
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = COMBINING.sub("", text).casefold().translate(_LIGATURES)
    text = _ELISION.sub(r"\1 ", text)  # French "j'ai" -> "j ai"
    text = text.replace("'", "")  # English "can't" -> "cant"
    text = _JUNK.sub(" ", text)  # emoji, symbols, control characters
    text = re.sub(r"([a-z])\1{2,}", r"\1", text)  # "sooo" -> "so"
    text = re.sub(r"([!?.])\1+", r"\1", text)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r" *\n[\s]*", "\n", text).strip()
