"""What an answerer is given: the retrieved passages, their sentences with their vectors,
and the question's vector."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from assistant.answering.base import Candidate, Evidence
from assistant.answering.roles import Reading
from assistant.retrieval.served import LoadedIndex
from assistant.schema import Hit

__all__ = ["gather_evidence"]


def gather_evidence(query: str, query_vector: np.ndarray, hits: Sequence[Hit], index: LoadedIndex,
                    quotable: Callable[[str], bool], reading: Reading | None = None) -> Evidence:
    """Every sentence of ``hits`` that ``quotable`` accepts, in passage order, as candidates.

    The pipeline's ``quotable`` refuses a sentence that discourages care ("you should
    never see a doctor"), so no answerer ever quotes one.
    """
    candidates: list[Candidate] = []
    for rank, hit in enumerate(hits):
        vectors = index.vectors(hit.chunk.chunk_id)
        for position, text in enumerate(index.sentences(hit.chunk.chunk_id)):
            if quotable(text):
                candidates.append(Candidate(hit.chunk, text, vectors[position], rank, position))
    return Evidence(query, tuple(hits), tuple(candidates), np.asarray(query_vector, dtype=np.float32),
                    reading or Reading())
