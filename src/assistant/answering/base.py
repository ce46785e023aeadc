"""What every answerer shares: the evidence it is given, the composition it returns, and
the answer read back into its sentences.

An answerer has one required method, ``compose(evidence) -> Composition``. ``units_of``
and ``assemble`` read an answer back into its sentences and rebuild it, numbering the
passages in order of first use (for the tier's shaping, assistant.safety.shaping).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.answering import markers
from assistant.answering.roles import Reading
from assistant.schema import Chunk, Citation, Hit

# One sentence of an answer and the markers that end it.
_UNIT = re.compile(r"(.+?)(" + markers.RUN + r")(?=\s|$)", re.DOTALL)


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
    reading: Reading = Reading()


@dataclass(frozen=True)
class Composition:
    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    relevance: float
    answerer: str = "extractive"
    # What the answerer reports about how it composed, for the answer's ``extra`` (an LLM
    # answerer's prompt version and hash, and its grounding report); empty for the extractive one.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Unit:
    """One sentence of an answer: its text (no markers), the passages it cites, and the
    source sentences it quotes (for the highlight)."""

    text: str
    sources: tuple[str, ...]
    quoted: tuple[str, ...] = ()


class Answerer:
    """Base class: one required method."""

    name = "answerer"

    def compose(self, evidence: Evidence) -> Composition:  # pragma: no cover - interface
        raise NotImplementedError


def usable(sentence: str) -> bool:
    """Sentences that can stand alone in an answer."""
    return len(sentence.split()) >= 5 and not sentence.endswith((":", "?"))


def units_of(composition: Composition) -> list[Unit]:
    """The answer's sentences with the passages each cites (``[n]`` markers read back)."""
    by_n = {c.n: c for c in composition.citations}
    out = []
    for match in _UNIT.finditer(composition.answer.strip()):
        cited = [by_n[n] for n in markers.numbers(match.group(2)) if n in by_n]
        quoted = tuple(s for c in cited for s in c.sentences)
        out.append(Unit(match.group(1).strip(), tuple(dict.fromkeys(c.chunk_id for c in cited)), quoted))
    return out


def assemble(units: Sequence[Unit], hits: Sequence[Hit], relevance: float, answerer: str) -> Composition:
    """An answer from its sentences: passages numbered 1..m in order of first use, each sentence
    followed by its markers, each citation highlighting the sentences quoted from it."""
    by_id = {h.chunk.chunk_id: h for h in hits}
    numbers: dict[str, int] = {}
    quoted: dict[str, list[str]] = {}
    parts: list[str] = []
    for unit in units:
        sources = [cid for cid in unit.sources if cid in by_id]
        for cid in sources:
            numbers.setdefault(cid, len(numbers) + 1)
            quoted.setdefault(cid, [])
            quoted[cid] += [s for s in unit.quoted if s not in quoted[cid] and s in by_id[cid].chunk.text]
        parts.append(f"{unit.text} " + markers.write(numbers[cid] for cid in sources) if sources else unit.text)
    citations = tuple(
        citation(n, by_id[cid].chunk, by_id[cid].score, quoted[cid], by_id[cid].also)
        for cid, n in sorted(numbers.items(), key=lambda kv: kv[1])
    )
    return Composition(" ".join(parts), citations, abstained=False, relevance=relevance, answerer=answerer)


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
