"""Spelling-tolerant matching: misspelt warning words are read as the words they were meant to be.

A word that is neither in English (symspellpy's bundled 82,765-word frequency
dictionary) nor in the domain vocabulary (every word of the phrasing bank and
the rule topics) is replaced by the nearest domain word within a small edit
distance: "hivs" -> "hives", "infaction" -> "infection", "bleading" ->
"bleeding". The corrected text is only ever matched, never shown.

>>> SpellingLayer(["hives", "fever", "bleeding"]).correct("i have hivs and a fevr, bleading")
'i have hives and a fever, bleeding'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

__all__ = ["SpellingLayer", "english_counts", "english_words"]

_TOKEN = re.compile(r"[a-z]{4,}")
MAX_WORD = 30  # longer "words" are pasted junk, not a misspelling
_DICTIONARY = "frequency_dictionary_en_82_765.txt"
# Short words have many neighbours ("pain"/"rain"), so the distance grows with length.
_MAX_DISTANCE = ((6, 1), (MAX_WORD, 2))  # up to 6 letters: 1 edit; longer: 2
MIN_DOMAIN_COUNT = 3


@lru_cache(maxsize=1)
def english_counts() -> dict[str, int]:
    """symspellpy's bundled English frequency dictionary: word -> how often it occurs on the web."""
    text = resources.files("symspellpy").joinpath(_DICTIONARY).read_text(encoding="utf-8")
    counts: dict[str, int] = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if word and count.strip().isdigit():
            counts[word] = int(count)
    return counts


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The words of symspellpy's bundled English frequency dictionary."""
    return frozenset(english_counts())


class SpellingLayer:
    """Corrects out-of-dictionary words to the nearest domain word."""

    def __init__(self, vocabulary: Iterable[str], min_count: int = MIN_DOMAIN_COUNT) -> None:
        from symspellpy import SymSpell  # lazy: triage() without misspellings never needs it

        english = english_words()
        # subtle: the bank spells a few words wrong on purpose ("hivs"); a word is a
        # correction target only if it is English or the bank uses it often.
        counts = Counter(w for w in vocabulary if _TOKEN.fullmatch(w))
        counts = Counter({w: n for w, n in counts.items() if w in english or n >= min_count})
        self.vocabulary = frozenset(counts)
        self._index = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in counts.items():  # a tie between two corrections goes to the commoner word
            self._index.create_dictionary_entry(word, count)
        self._cache: dict[str, str] = {}

    def correct(self, text: str) -> str:
        """``text`` with misspelt domain words corrected; unchanged when nothing needs it."""
        return _TOKEN.sub(lambda m: self._word(m.group(0)), text)

    def _word(self, word: str) -> str:
        found = self._cache.get(word)
        if found is None:
            found = word if word in self.vocabulary or word in english_words() else self._nearest(word)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _nearest(self, word: str) -> str:
        from symspellpy import Verbosity

        if len(word) > MAX_WORD:
            return word
        distance = next(d for length, d in _MAX_DISTANCE if len(word) <= length)
        suggestions = self._index.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        # subtle: two domain words equally close ("hivs": "hives", "hips") is a guess; the one
        # most frequent in the bank is taken, which a raise-only layer can afford.
        return suggestions[0].term if suggestions else word
