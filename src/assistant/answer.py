"""Answerers: turn retrieved passages into a short answer with [n] citations.

The default ``ExtractiveAnswerer`` never writes a word of its own: every
sentence of its answer is a sentence of a cited passage, copied verbatim.
It picks sentences by similarity to the question with maximal marginal
relevance (so three near-identical sentences from a repetitive article do not
crowd out the one that adds something), and abstains when even the best
sentence is not close enough to the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assistant.retrieval import query_terms
from assistant.schema import Chunk, Citation, Hit
from assistant.text import fold


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with its embedding."""

    chunk: Chunk
    text: str
    vector: np.ndarray
    hit_rank: int
    position: int


@dataclass(frozen=True)
class Evidence:
    """What an answerer may use: the hits, their sentences, and the query vector."""

    question: str
    hits: tuple[Hit, ...]
    candidates: tuple[Candidate, ...]
    query_vector: np.ndarray


@dataclass(frozen=True)
class Composition:
    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    relevance: float
    answerer: str = "extractive"


class Answerer:
    """Base class: one required method."""

    name = "answerer"

    def compose(self, evidence: Evidence) -> Composition:  # pragma: no cover - interface
        raise NotImplementedError


# Sentences are ordered so the answer reads: what it is / whether it is normal,
# then what to do, then when to get help.
_SEEK_HELP = re.compile(
    r"\b(consult|seek|contact|dermatologist|doctor|healthcare|professional|medical (assistance|advice|attention)|practitioner immediately)\b",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"^(apply|avoid|use|keep|stick|make sure|look for|drink|wear|choose|ensure|always|follow|protect|do not|don't|"
    r"instead|try|spacing|review|discuss|performing|to (minimize|prevent|mitigate))\b|\b(it is (recommended|advisable|essential|crucial|important) to|"
    r"should|recommended|advised|can help)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def term_set(sentence: str) -> frozenset[str]:
    """A source sentence's content words (the same sentences come back question after question)."""
    return frozenset(query_terms(sentence))


def reading_order(text: str) -> int:
    if _SEEK_HELP.search(text):
        return 2
    if _ADVICE.search(text):
        return 1
    return 0


def usable(sentence: str) -> bool:
    """Sentences that can stand alone in an answer."""
    return len(sentence.split()) >= 5 and not sentence.endswith((":", "?"))


class ExtractiveAnswerer(Answerer):
    """Quote the most relevant, least redundant sentences of the retrieved passages.

    ``threshold`` is the minimum cosine similarity between the question and the
    best sentence for the assistant to answer at all (calibrated on the tune
    split of the eval sets, see data/tuning.toml).
    """

    name = "extractive"

    def __init__(self, threshold: float, max_sentences: int = 4, diversity: float = 0.3,
                 near_duplicate: float = 0.9, spread: float = 0.12) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.diversity = diversity
        self.near_duplicate = near_duplicate
        self.spread = spread

    def score(self, evidence: Evidence) -> np.ndarray:
        if not evidence.candidates:
            return np.zeros(0, dtype=np.float32)
        matrix = np.stack([c.vector for c in evidence.candidates])
        dense = matrix @ evidence.query_vector
        terms = set(query_terms(evidence.question))
        lexical = np.array(
            [len(terms & term_set(c.text)) / (len(terms) or 1) for c in evidence.candidates],
            dtype=np.float32,
        )
        rank_prior = np.array([0.02 * (1.0 / (1 + c.hit_rank)) for c in evidence.candidates], dtype=np.float32)
        return dense + 0.15 * lexical + rank_prior

    def compose(self, evidence: Evidence) -> Composition:
        usable_idx = [i for i, c in enumerate(evidence.candidates) if usable(c.text)]
        if not usable_idx:
            return Composition("", (), abstained=True, relevance=0.0)
        dense = np.stack([c.vector for c in evidence.candidates]) @ evidence.query_vector
        relevance = float(max(dense[i] for i in usable_idx))
        if relevance < self.threshold:
            return Composition("", (), abstained=True, relevance=relevance)
        chosen = self._select(evidence, usable_idx)
        return self._render(evidence, chosen, relevance)

    def _select(self, evidence: Evidence, pool: list[int]) -> list[int]:
        scores = self.score(evidence)
        best = max(scores[i] for i in pool)
        pool = [i for i in pool if scores[i] >= best - self.spread]
        chosen: list[int] = []
        seen_text: set[str] = set()
        while pool and len(chosen) < self.max_sentences:
            def mmr(i: int) -> float:
                redundancy = max((float(evidence.candidates[i].vector @ evidence.candidates[j].vector) for j in chosen), default=0.0)
                return (1 - self.diversity) * float(scores[i]) - self.diversity * redundancy

            pick = max(pool, key=lambda i: (mmr(i), -i))
            pool.remove(pick)
            cand = evidence.candidates[pick]
            key = fold(cand.text)
            too_close = any(float(cand.vector @ evidence.candidates[j].vector) >= self.near_duplicate for j in chosen)
            if key in seen_text or too_close:
                continue
            seen_text.add(key)
            chosen.append(pick)
        return chosen

    def _render(self, evidence: Evidence, chosen: list[int], relevance: float) -> Composition:
        # Within a reading-order group keep the source's own order, so sentences
        # from one passage stay in the sequence their author wrote them.
        ordered = sorted(
            chosen,
            key=lambda i: (reading_order(evidence.candidates[i].text), evidence.candidates[i].hit_rank,
                           evidence.candidates[i].position),
        )
        numbers: dict[str, int] = {}
        cited: dict[str, list[str]] = {}
        parts: list[str] = []
        for i in ordered:
            cand = evidence.candidates[i]
            n = numbers.setdefault(cand.chunk.chunk_id, len(numbers) + 1)
            cited.setdefault(cand.chunk.chunk_id, []).append(cand.text)
            parts.append(f"{cand.text} [{n}]")
        hits = {h.chunk.chunk_id: h for h in evidence.hits}
        citations = tuple(
            citation(n, hits[cid].chunk, hits[cid].score, cited[cid], hits[cid].also)
            for cid, n in sorted(numbers.items(), key=lambda kv: kv[1])
        )
        return Composition(" ".join(parts), citations, abstained=False, relevance=relevance)


def citation(n: int, chunk: Chunk, score: float, sentences: Sequence[str] = (), also: Sequence[str] = ()) -> Citation:
    return Citation(
        n=n,
        doc=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        text=chunk.text,
        score=score,
        chunk_id=chunk.chunk_id,
        sentences=tuple(sentences),
        also=tuple(also),
        page=chunk.page,
    )
