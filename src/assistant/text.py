"""Small text utilities shared by cleaning, chunking, answering and evaluation.

Pure functions, stdlib only, and one word list kept as data (data/function_words.yaml).

>>> [s for _, _, s in sentences("Redness is normal. See a doctor if it lasts.")]
['Redness is normal.', 'See a doctor if it lasts.']
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

# subtle: the look-ahead requires the next sentence to start like a sentence
# (capital, digit or opening quote), so "e.g. ibuprofen" and "Dr. Lee" stay whole
# more often than not; the abbreviation list catches the common rest.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[A-Z0-9\"“‘(])")
_ABBREVIATIONS = ("e.g.", "i.e.", "dr.", "mr.", "mrs.", "ms.", "vs.", "etc.", "approx.", "no.", "st.")
_WORD = re.compile(r"[a-z0-9]+")
_PUNCT_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})


@dataclass(frozen=True)
class Rule:
    """A data-file pattern with an optional ``unless``: it matches a text that
    matches ``pattern`` and not ``unless`` (both case-insensitive regexes).

    >>> Rule.from_entry({"match": r"\\bspots?\\b", "unless": r"\\bdark spots\\b"}).matches("dark spots")
    False
    """

    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Rule:
        """From a YAML entry with ``match`` and optionally ``unless``."""
        unless = entry.get("unless")
        return cls(re.compile(str(entry["match"]), re.IGNORECASE),
                   re.compile(str(unless), re.IGNORECASE) if unless else None)

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text)) and not (self.unless and self.unless.search(text))


def sentences(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, sentence)`` for each sentence; ``text[start:end] == sentence``."""
    for para_match in re.finditer(r"[^\n]+", text):
        para, base = para_match.group(), para_match.start()
        start = 0
        for boundary in _BOUNDARY.finditer(para):
            head = para[start : boundary.start() + 1].rstrip()
            last_word = head.rsplit(None, 1)[-1].lower() if head.strip() else ""
            # subtle: compare the whole last word; "dermatologist." must not match "st."
            if last_word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.){1,3}", last_word):
                continue
            yield from _emit(para, base, start, boundary.start())
            start = boundary.end()
        yield from _emit(para, base, start, len(para))


def _emit(para: str, base: int, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    chunk = para[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    offset = start + (len(chunk) - len(chunk.lstrip()))
    yield base + offset, base + offset + len(stripped), stripped


def fold(text: str) -> str:
    """Normalise for comparison: NFKC, typographic quotes folded, lowercase, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_FOLD)
    return re.sub(r"\s+", " ", text).strip().lower()


def words(text: str) -> list[str]:
    """Lowercase alphanumeric tokens, accents stripped."""
    text = text.lower() if text.isascii() else fold(text)
    if not text.isascii():  # subtle: only then can there be accents to strip, one character at a time
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(text)


FUNCTION_WORDS_FILE = Path(__file__).parent / "data" / "function_words.yaml"


@lru_cache(maxsize=1)
def _word_lists() -> dict[str, frozenset[str]]:
    """The file, parsed once: reader -> its whole list (the core words and its further words)."""
    from assistant.config import data_file  # config reads settings; text stays importable without it

    with data_file(FUNCTION_WORDS_FILE, "The function words in", "Fix the YAML, or restore it from git.") as data:
        core = frozenset(str(data["core"]).split())
        return {"core": core, **{reader: core | frozenset(str(words).split()) for reader, words in data["further"].items()}}


def function_words(reader: Literal["core", "grounding", "scope"] = "core") -> frozenset[str]:
    """Words that carry no topic: the core list, plus the further words a reader also drops
    (data/function_words.yaml says why each reader drops them).

    >>> "the" in function_words() and "usually" in function_words("grounding")
    True
    >>> "usually" in function_words()
    False
    """
    return _word_lists()[reader]


def contains_sentence(passage: str, sentence: str) -> bool:
    """True when ``sentence`` appears in ``passage`` after folding (survives re-chunking)."""
    return fold(sentence) in fold(passage)


def overlapping(texts: Sequence[str], min_share: float) -> Iterator[tuple[int, int, float]]:
    """Pairs ``(i, j)``, ``i < j``, of texts that share at least ``min_share`` of the shorter one's
    sentences, word for word after folding.

    Through an index from sentence to the texts holding it, only texts that
    share a sentence are ever compared: about linear in the number of texts,
    where comparing every pair was quadratic (50 s for 1,000 documents).

    >>> list(overlapping(["Ice helps. Rest.", "Rest. Ice helps. Drink water.", "Other."], 0.5))
    [(0, 1, 1.0)]
    """
    sets = [{fold(s) for _, _, s in sentences(t)} for t in texts]
    holders: dict[str, list[int]] = {}
    shared: Counter[tuple[int, int]] = Counter()
    for j, mine in enumerate(sets):
        for sentence in mine:
            for i in holders.get(sentence, ()):
                shared[(i, j)] += 1
            holders.setdefault(sentence, []).append(j)
    for (i, j), n in sorted(shared.items()):
        if (share := n / min(len(sets[i]), len(sets[j]))) >= min_share:
            yield i, j, share


def safe_text(text: str) -> str:
    r"""Replace lone surrogates and NUL bytes, which tokenizers and databases reject.

    >>> safe_text("fever\ud800 and pus\x00")
    'fever? and pus '
    """
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")
