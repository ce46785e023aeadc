"""What a corpus is about, read from its documents at ingest and kept in the manifest.

The subject is the procedure every document is about: the specific words that
most titles name and nearly every document uses ("microneedling" for the
bundled articles, "chemical peel" for a clinic's peel leaflets). In a question
it carries no signal, since every passage shares it, so it is left out of the
retrieval query and of the check of what a question is about. A question
about another procedure keeps that procedure's name, which no passage uses,
and so is not covered. Nothing in the code names a subject.

>>> s = derive_subject(["Pimples after microneedling", "Micro Needling Gone Wrong"],
...                    ["Microneedling can cause pimples.", "After micro needling, redness is normal."])
>>> s.terms, s.name
(('microneedling',), 'microneedling')
>>> s.strip("is micro-needling safe for redness")
'is safe for redness'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from assistant.scope.terms import is_content, joined, specificity, stem
from assistant.text import words

# A subject word is in more than this share of titles, and at least this share of
# documents, of a corpus of at least MIN_DOCUMENTS; at most MAX_WORDS words.
IN_TITLES = 0.5
MIN_DOCUMENTS = 2
MAX_WORDS = 3
IN_DOCUMENTS = 0.8
# Titles also name what a document does ("guide", "understanding", "tips"): such
# words are common in English, so only words at least this specific can be the subject.
MIN_SPECIFICITY = 0.12


# A word that stands before (or after) the subject in this share of its uses, and at least
# this often, marks the subject's slot. Tuned on the tune data (benchmarks/tune_scope.py).
SLOT_SHARE = 0.15
SLOT_MIN = 2
# Closed-class words skipped between a slot word and the subject ("after a chemical peel").
DETERMINERS = frozenset("a an the my your his her our their this that these those any each every some".split())


@dataclass(frozen=True)
class Subject:
    """The corpus's own subject: its words (lower case, as the passages write them) and
    the forms the documents spell them in ("micro needling", "micro-needling")."""

    terms: tuple[str, ...] = ()
    name: str = ""
    forms: tuple[str, ...] = ()
    # The words the documents put just before and just after the subject far more than
    # elsewhere ("after microneedling", "microneedling session"): its slot in a sentence.
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"terms": list(self.terms), "name": self.name, "forms": list(self.forms),
                "before": list(self.before), "after": list(self.after)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Subject:
        data = data or {}
        return cls(tuple(data.get("terms", ())), str(data.get("name", "")), tuple(data.get("forms", ())),
                   tuple(data.get("before", ())), tuple(data.get("after", ())))

    def in_its_slot(self, tokens: Sequence[str], known: Callable[[str], bool]) -> list[int]:
        """Where ``tokens`` put a word in the subject's slot ("swelling after [microneedling]" in a
        corpus that says "after filler"): a determiner and one word ``known`` to the passages
        ("after lip filler") may come between."""
        if not (self.before or self.after):
            return []
        found = []
        for i in range(len(tokens)):
            k = _preceding(tokens, i)
            if k >= 1 and tokens[k] not in self.before and known(tokens[k]):
                k = _preceding(tokens, k)
            if (k >= 0 and tokens[k] in self.before) or (i + 1 < len(tokens) and tokens[i + 1] in self.after):
                found.append(i)
        return found

    def is_subject(self, word: str) -> bool:
        return stem(word) in self._stems

    @cached_property
    def _stems(self) -> frozenset[str]:
        return frozenset(stem(t) for t in self.terms)

    def strip(self, text: str) -> str:
        """``text`` without the subject's words (any of their spellings)."""
        if not self.terms:
            return text
        return re.sub(r"\s+", " ", self._pattern.sub(" ", text)).strip()

    def generic(self, text: str, word: str = "treatment") -> str:
        """``text`` with the subject named by a generic ``word`` ("after microneedling" ->
        "after treatment"), so rules about any treatment read it."""
        return self._pattern.sub(word, text) if self.terms else text

    @cached_property  # strip() runs on every retrieval query
    def _pattern(self) -> re.Pattern[str]:
        # A form's words may be written apart, hyphenated or joined: "micro needling", "micro-needling".
        spelt = sorted({*self.forms, *self.terms}, key=len, reverse=True)
        alternatives = "|".join(r"[\s-]?".join(re.escape(w) for w in f.split()) for f in spelt)
        return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE)


def derive_subject(titles: Sequence[str], texts: Sequence[str]) -> Subject:
    """The words most titles name and nearly every document uses, in title order."""
    if len(titles) < MIN_DOCUMENTS:
        return Subject()  # one document's title says what it is, not what a corpus is about
    vocabulary = {w for text in texts for w in words(text)}
    forms: dict[str, set[str]] = {}

    def merged(tokens: list[str]) -> list[str]:
        return joined(tokens, vocabulary, forms)

    in_titles: Counter[str] = Counter()
    order: dict[str, float] = {}
    for title in titles:
        tokens = [w for w in merged(words(title)) if is_content(w)]
        for position, token in enumerate(dict.fromkeys(tokens)):
            in_titles[token] += 1
            order[token] = order.get(token, 0.0) + position / max(1, len(tokens))
    stems_per_doc = [{stem(w) for w in merged(words(text))} for text in texts]
    chosen = [
        w for w, n in in_titles.items()
        if n / len(titles) > IN_TITLES and specificity(w) >= MIN_SPECIFICITY
        and sum(stem(w) in doc for doc in stems_per_doc) / max(1, len(texts)) >= IN_DOCUMENTS
    ]
    chosen = sorted(chosen, key=lambda w: -in_titles[w])[:MAX_WORDS]
    chosen.sort(key=lambda w: order[w] / in_titles[w])
    for text in texts:  # the other spellings the documents use ("micro-needling")
        for w in chosen:
            for match in re.finditer(rf"\b{_split_pattern(w)}\b", text.lower()):
                forms.setdefault(w, set()).add(re.sub(r"[\s-]+", " ", match.group(0)))
    spelt = sorted({f for w in chosen for f in forms.get(w, ()) if f != w})
    before, after = _slot([merged(words(t)) for t in (*titles, *texts)], chosen)
    return Subject(tuple(chosen), " ".join(chosen), tuple(spelt), before, after)


def _slot(documents: Sequence[Sequence[str]], chosen: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The words that stand before the subject's first word and after its last in at least
    SLOT_SHARE of their uses (and SLOT_MIN times); determiners between are skipped."""
    if not chosen:
        return (), ()
    first, last = chosen[0], chosen[-1]
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    uses: Counter[str] = Counter()
    for tokens in documents:
        uses.update(tokens)
        for i, token in enumerate(tokens):
            if token == first and (k := _preceding(tokens, i)) >= 0:
                before[tokens[k]] += 1
            if token == last and i + 1 < len(tokens):
                after[tokens[i + 1]] += 1

    def kept(counts: Counter[str]) -> tuple[str, ...]:
        return tuple(sorted(w for w, n in counts.items() if n >= SLOT_MIN and n / uses[w] >= SLOT_SHARE
                            and w not in chosen and w not in DETERMINERS))

    return kept(before), kept(after)


def _preceding(tokens: Sequence[str], i: int) -> int:
    """The position of the word before ``tokens[i]``, determiners skipped (-1 when there is none)."""
    k = i - 1
    while k >= 0 and tokens[k] in DETERMINERS:
        k -= 1
    return k


def _split_pattern(word: str) -> str:
    """A word, or the same letters split once by a space or hyphen."""
    return "(?:" + "|".join([re.escape(word)] + [f"{re.escape(word[:i])}[\\s-]{re.escape(word[i:])}"
                                                  for i in range(3, len(word) - 2)]) + ")"
