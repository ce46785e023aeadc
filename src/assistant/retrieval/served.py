"""The served index in memory: one generation's passages, sentence vectors, retrievers and
scope words, read once and swapped in one assignment.

>>> index = LoadedIndex.read(store, location, settings, encode, embed)   # doctest: +SKIP
>>> index.collapse(index.retrievers["hybrid"].retrieve("redness", 10), 0.75)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from assistant.config import Settings
from assistant.corpus.chunking import sentence_texts
from assistant.index.derived import Derived, load_or_build
from assistant.index.store import Store
from assistant.index.locations import Location
from assistant.retrieval.retrievers import BM25Retriever, DenseRetriever, HybridRetriever, Retriever
from assistant.schema import Chunk, Hit
from assistant.scope import CorpusScope

__all__ = ["IndexInfo", "LoadedIndex"]

MAX_OVERLAP_PAIRS = 200_000


@dataclass(frozen=True)
class IndexInfo:
    documents: int
    passages: int
    indexed_at: str | None
    corpus_version: str | None
    model: str | None
    # Why answers cannot come from the sources now ("knowledge base unavailable: ..."); empty when all is well.
    degraded: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedIndex:
    """Everything read from one index generation. ``Assistant.reload`` swaps it in one
    assignment, and ``ask`` works from one snapshot, so a reload while a question is
    being answered never mixes two generations."""

    store: Store
    derived: Derived
    chunks: dict[str, Chunk]
    doc_meta: dict[str, dict[str, str]]
    retrievers: dict[str, Retriever]
    info: IndexInfo
    scope: CorpusScope
    # (passage, passage) -> mean best sentence similarity; a property of the index, so it is kept.
    overlap: dict[tuple[str, str], float] = field(default_factory=dict, compare=False)

    @classmethod
    def read(cls, store: Store, location: Location, settings: Settings, encode: Callable[[str], Sequence[float]],
             embed: Callable[[Sequence[str]], np.ndarray], previous: LoadedIndex | None = None) -> LoadedIndex:
        """Read ``store``'s generation: its derived files (built when missing), the retrievers
        over them, and the corpus's scope words embedded with ``embed`` (taken from
        ``previous`` when it is the same generation: a SIGHUP re-reads nothing twice)."""
        manifest = location.manifest()
        derived = load_or_build(store, location.derived_dir(store.generation))
        chunks = {c.chunk_id: c for c in derived.chunks}
        retrievers: dict[str, Retriever] = {
            "bm25": BM25Retriever(derived.chunks, derived.bm25),
            "dense": DenseRetriever(store.search, encode, chunks, derived.sentence_vectors, settings.sentence_weight),
        }
        lexical = settings.lexical_weight
        retrievers["hybrid"] = HybridRetriever([(retrievers["bm25"], lexical), (retrievers["dense"], 1 - lexical)])
        if previous is not None and previous.store.generation == store.generation:
            scope = previous.scope  # its words are embedded already
        else:
            scope = CorpusScope.of_index(manifest, derived)
            scope.prepare(embed)  # embedded now, not on the first question (and not through the query cache)
        return cls(
            store=store,
            derived=derived,
            chunks=chunks,
            doc_meta={d: dict(info.get("metadata", {})) for d, info in manifest.get("documents", {}).items()},
            retrievers=retrievers,
            scope=scope,
            info=IndexInfo(
                documents=len(manifest.get("documents", {})),
                passages=len(chunks),
                indexed_at=manifest.get("indexed_at"),
                corpus_version=manifest.get("corpus_version"),
                model=manifest.get("config", {}).get("model"),
            ),
        )

    def vectors(self, chunk_id: str) -> np.ndarray:
        return self.derived.sentence_vectors(chunk_id)

    def sentences(self, chunk_id: str) -> tuple[str, ...]:
        return _sentences_of(self.chunks[chunk_id])

    def similarity(self, a: str, b: str) -> float:
        """On average, how close each sentence of ``a`` comes to a sentence of ``b``."""
        found = self.overlap.get((a, b))
        if found is None:
            mine, theirs = self.vectors(a), self.vectors(b)
            found = float((mine @ theirs.T).max(axis=1).mean()) if len(mine) and len(theirs) else 0.0
            if len(self.overlap) >= MAX_OVERLAP_PAIRS:
                self.overlap.clear()
            self.overlap[(a, b)] = found
        return found

    def collapse(self, hits: Sequence[Hit], duplicate: float) -> tuple[Hit, ...]:
        """Merge near-duplicate passages into the best-ranked one.

        Two passages are near-duplicates when, on average, each sentence of the
        lower-ranked one has a sentence in the higher-ranked one with cosine
        similarity of at least ``duplicate`` (``Settings.duplicate_passages``). The
        merged hit remembers the others in ``also`` (they support the same content).
        """
        kept: list[Hit] = []
        for hit in hits:
            for i, other in enumerate(kept):
                if self.similarity(hit.chunk.chunk_id, other.chunk.chunk_id) >= duplicate:
                    kept[i] = replace(other, also=other.also + (hit.chunk.chunk_id,))
                    break
            else:
                kept.append(hit)
        return tuple(kept)


@lru_cache(maxsize=4096)
def _sentences_of(chunk: Chunk) -> tuple[str, ...]:
    return tuple(sentence_texts(chunk))
