"""Lexical, dense and hybrid retrievers behind one ``retrieve(query, k)``.

Hybrid fuses the BM25 and dense results by a convex combination of their
scores, each min-max normalised over its own candidates (Bruch et al. 2023,
"An Analysis of Fusion Functions for Hybrid Retrieval"), so neither score
scale dominates and a passage both agree on rises. ``CorpusRetriever`` adapts any of
them to langchain's ``BaseRetriever`` so they plug into langchain chains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from assistant.retrieval.bm25 import SparseBM25
from assistant.corpus.chunking import embedding_text
from assistant.schema import Chunk, Hit
from assistant.text import function_words, words

# Words that carry no topic in a question. The corpus's own subject is left out of
# queries too, but it is read from the documents (assistant.scope.subject), not listed.
STOPWORDS = function_words()


class Retriever(Protocol):
    """Anything that ranks passages for a query."""

    def retrieve(self, query: str, k: int) -> list[Hit]: ...


def query_terms(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


class BM25Retriever:
    """Okapi BM25 over section heading plus passage text (``index`` is built when not given)."""

    def __init__(self, chunks: Sequence[Chunk], index: SparseBM25 | None = None) -> None:
        self.chunks = list(chunks)
        self._bm25 = index or SparseBM25.build([bm25_terms(c) for c in self.chunks])

    def retrieve(self, query: str, k: int) -> list[Hit]:
        terms = query_terms(query)
        if not terms or not self.chunks:
            return []
        return [Hit(self.chunks[i], score) for i, score in self._bm25.top(terms, k)]


def bm25_terms(chunk: Chunk) -> list[str]:
    """What BM25 indexes of a passage: heading and text without stopwords (``_`` keeps a row for an empty one)."""
    return query_terms(embedding_text(chunk)) or ["_"]


class DenseRetriever:
    """Nearest passages by cosine similarity of the query embedding, reranked by their best sentence.

    The store answers with passage ids for a pool of candidates; ``chunks``
    (the loaded index) turns them into passages. With ``sentence_vectors``,
    each candidate's score becomes ``(1 - sentence_weight) * passage cosine +
    sentence_weight * best sentence cosine``: a passage that holds one sentence
    answering the question outranks one that is about the topic in general
    (tuned on the tune split, see data/tuning.toml).
    """

    def __init__(self, search: Callable[[Sequence[float], int], list[tuple[str, float]]],
                 encode: Callable[[str], Sequence[float]], chunks: Mapping[str, Chunk],
                 sentence_vectors: Callable[[str], np.ndarray] | None = None, sentence_weight: float = 0.0,
                 pool: int = 50) -> None:
        self._search = search
        self._encode = encode
        self._chunks = chunks
        self._sentence_vectors = sentence_vectors
        self.sentence_weight = sentence_weight
        self.pool = pool

    def retrieve(self, query: str, k: int) -> list[Hit]:
        if not query.strip():
            return []
        vector = self._encode(query)
        found = [(self._chunks[cid], score) for cid, score in self._search(vector, max(k, self.pool))
                 if cid in self._chunks]
        if self.sentence_weight and self._sentence_vectors is not None:
            q, w, rows_of = np.asarray(vector, dtype=np.float32), self.sentence_weight, self._sentence_vectors

            def reranked(chunk: Chunk, score: float) -> float:
                rows = rows_of(chunk.chunk_id)  # a passage without sentences keeps its passage score
                return (1 - w) * score + w * float((rows @ q).max()) if len(rows) else score

            found = sorted(((chunk, reranked(chunk, score)) for chunk, score in found),
                           key=lambda pair: (-pair[1], pair[0].chunk_id))
        return [Hit(chunk, score) for chunk, score in found[:k]]


class HybridRetriever:
    """Weighted sum of each retriever's min-max normalised scores; each is asked for ``depth * k``.

    ``weighted`` pairs each retriever with its weight. A passage one retriever
    did not return gets nothing from it. The weights were chosen on the tune
    split (see data/tuning.toml ``lexical_weight``).
    """

    def __init__(self, weighted: Sequence[tuple[Retriever, float]], depth: int = 10) -> None:
        self.weighted = list(weighted)
        self.depth = depth

    def retrieve(self, query: str, k: int) -> list[Hit]:
        fused: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        for retriever, weight in self.weighted:
            hits = retriever.retrieve(query, k * self.depth)
            if not hits:
                continue
            low, high = min(h.score for h in hits), max(h.score for h in hits)
            for hit in hits:
                share = (hit.score - low) / (high - low) if high > low else 1.0
                fused[hit.chunk.chunk_id] = fused.get(hit.chunk.chunk_id, 0.0) + weight * share
                chunks[hit.chunk.chunk_id] = hit.chunk
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))
        return [Hit(chunks[cid], fused[cid]) for cid in order[:k]]


class CorpusRetriever(BaseRetriever):
    """langchain adapter: ``CorpusRetriever(retriever=..., k=5).invoke("question")``.

    ``describe(hit)`` gives each Document's metadata (the pipeline's gives a citation's
    provenance); without it, the passage's place in its document."""

    retriever: Any
    k: int = 5
    describe: Any = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [hit_to_document(hit, self.describe) for hit in self.retriever.retrieve(query, self.k)]


def hit_to_document(hit: Hit, describe: Callable[[Hit], dict[str, Any]] | None = None) -> LCDocument:
    c = hit.chunk
    metadata = describe(hit) if describe is not None else {
        "chunk_id": c.chunk_id, "doc_id": c.doc_id, "title": c.title, "section": c.section,
        "start": c.start, "end": c.end, "score": hit.score}
    return LCDocument(id=c.chunk_id, page_content=c.text, metadata=metadata)
