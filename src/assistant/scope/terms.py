"""The words of a question: how specific each one is, and whether the corpus says it.

*Specificity* comes from how common a word is in English (symspellpy's bundled
web frequency list): "days" and "normal" say little about what a question is
about, "minoxidil", "router" and "paw" say a lot. *Known* means the indexed
passages use the word, after stemming ("swollen"/"swelling" need not match, but
"pimple"/"pimples" do) and after correcting a misspelling to the nearest word
the passages use. Nothing here is about one subject: every fact comes from the
corpus that is loaded.

>>> specificity("the") < 0.05 < specificity("minoxidil")
True
>>> CorpusTerms({"pimpl": 3, "redness": 5}, 10).knows("pimples")
True
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.safety.spelling import SpellingLayer, english_counts
from assistant.text import function_words

# A word whose web count is within 10^EVERYDAY of the commonest word ("the") says
# nothing about a question's topic; specificity then rises over SPAN decades.
EVERYDAY = 1.8
SPAN = 3.5
# Words that only shape a question: what makes English sentences, not what any
# corpus is about.
FUNCTION_WORDS = function_words("scope")
# Words below this specificity are everyday English ("days", "later", "better"): they
# shape a question but say nothing of what it is about, so scope does not weigh them.
TOPICAL = 0.08


@lru_cache(maxsize=65536)
def specificity(word: str) -> float:
    """0 for everyday words, up to 1 for words rare on the web (or not in the English list)."""
    counts = english_counts()
    top = counts.get("the", 1)
    rarity = math.log10(top / (counts.get(word, 0) + 1))
    return min(1.0, max(0.0, (rarity - EVERYDAY) / SPAN))


_STEMMER_LOCK = threading.Lock()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of an English word."""
    # subtle: a Snowball stemmer keeps its working state on itself; two threads at once corrupt it.
    with _STEMMER_LOCK:
        return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - snowballstemmer ships no types
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def is_content(word: str) -> bool:
    """Whether a (lower-case) word can carry a topic: not a function word, a number or a single letter."""
    return len(word) > 1 and not word.isdigit() and word not in FUNCTION_WORDS


def is_chatter(word: str) -> bool:
    """Texting shorthand and stretched words ("lol", "ngl", "sooo"): no English word, no topic."""
    return (len(word) <= 4 and word not in english_counts()) or re.search(r"(.)\1\1", word) is not None


@dataclass
class CorpusTerms:
    """The stems the indexed passages use, with how many passages use each."""

    passages_per_stem: Mapping[str, int]
    passages: int
    _spelling: SpellingLayer | None = field(default=None, repr=False)
    _surface: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def from_vocabulary(cls, passages_per_word: Mapping[str, int], passages: int) -> CorpusTerms:
        """From word -> passage count (a BM25 vocabulary)."""
        stems: dict[str, int] = {}
        for word, n in passages_per_word.items():
            key = stem(word)
            stems[key] = max(stems.get(key, 0), n)
        terms = cls(stems, passages)
        terms._surface = frozenset(passages_per_word)
        return terms

    def knows(self, word: str) -> bool:
        """Whether the passages use ``word``, as written, stemmed, or spelt right."""
        if stem(word) in self.passages_per_stem:
            return True
        corrected = self._corrector().correct(word) if word.isalpha() else word
        return corrected != word and stem(corrected) in self.passages_per_stem

    def joined(self, tokens: Iterable[str]) -> list[str]:
        """``tokens`` with two neighbours merged when the passages write them as one word."""
        return joined(tokens, self._surface)

    def _corrector(self) -> SpellingLayer:
        if self._spelling is None:  # every word of the passages is a correction target
            self._spelling = SpellingLayer(self._surface, min_count=1)
        return self._spelling


def joined(tokens: Iterable[str], vocabulary: Container[str], split: dict[str, set[str]] | None = None) -> list[str]:
    """``tokens`` with two neighbours merged when ``vocabulary`` has them as one word
    ("micro needling" -> "microneedling" in a corpus that says "microneedling"); ``split``
    collects, per merged word, the two-word form it was written in."""
    out: list[str] = []
    for token in tokens:
        merged = f"{out[-1]}{token}" if out else ""
        if merged and merged in vocabulary:
            if split is not None:
                split.setdefault(merged, set()).add(f"{out[-1]} {token}")
            out[-1] = merged
        else:
            out.append(token)
    return out
