"""Lexical, dense and hybrid retrievers behind one ``retrieve(query, k)``.

Hybrid fuses the BM25 and dense rankings by reciprocal rank fusion (RRF,
Cormack et al. 2009): each retriever contributes ``1 / (RRF_K + rank)``, so
neither retriever's score scale dominates. ``CorpusRetriever`` adapts any of
them to langchain's ``BaseRetriever`` so they plug into langchain chains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from rank_bm25 import BM25Okapi

from assistant.chunking import embedding_text
from assistant.schema import Chunk, Hit
from assistant.text import words

RRF_K = 60
# Words that carry no topic in this domain's questions; dropping them keeps BM25
# from ranking passages by how often they say "microneedling".
STOPWORDS = frozenset(
    "a an and are as at be been but by can could do does did for from had has have how i if in is it its "
    "it's me my of on or should so that the their them then there these they this to was we were what "
    "when where which who why will with would you your after microneedling micro needling".split()
)


class Retriever(Protocol):
    """Anything that ranks passages for a query."""

    def retrieve(self, query: str, k: int) -> list[Hit]: ...


def query_terms(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


class BM25Retriever:
    """Okapi BM25 over section heading plus passage text."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = list(chunks)
        corpus = [query_terms(embedding_text(c)) or ["_"] for c in self.chunks]
        self._bm25 = BM25Okapi(corpus) if self.chunks else None

    def retrieve(self, query: str, k: int) -> list[Hit]:
        terms = query_terms(query)
        if not terms or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(terms)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        return [Hit(self.chunks[i], float(scores[i])) for i in order[:k] if scores[i] > 0]


class DenseRetriever:
    """Nearest passages in the vector store by cosine similarity of the query embedding."""

    def __init__(self, search: Callable[[Sequence[float], int], list[tuple[Chunk, float]]],
                 encode: Callable[[str], Sequence[float]]) -> None:
        self._search = search
        self._encode = encode

    def retrieve(self, query: str, k: int) -> list[Hit]:
        if not query.strip():
            return []
        return [Hit(chunk, score) for chunk, score in self._search(self._encode(query), k)]


class HybridRetriever:
    """Reciprocal rank fusion of several retrievers; each is asked for ``depth * k``."""

    def __init__(self, retrievers: Sequence[Retriever], depth: int = 4) -> None:
        self.retrievers = list(retrievers)
        self.depth = depth

    def retrieve(self, query: str, k: int) -> list[Hit]:
        fused: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        for retriever in self.retrievers:
            for rank, hit in enumerate(retriever.retrieve(query, k * self.depth), start=1):
                fused[hit.chunk.chunk_id] = fused.get(hit.chunk.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
                chunks[hit.chunk.chunk_id] = hit.chunk
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))
        return [Hit(chunks[cid], fused[cid]) for cid in order[:k]]


class CorpusRetriever(BaseRetriever):
    """langchain adapter: ``CorpusRetriever(retriever=..., k=5).invoke("question")``."""

    retriever: Any
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [hit_to_document(hit) for hit in self.retriever.retrieve(query, self.k)]


def hit_to_document(hit: Hit) -> LCDocument:
    c = hit.chunk
    return LCDocument(
        id=c.chunk_id,
        page_content=c.text,
        metadata={
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "title": c.title,
            "section": c.section,
            "start": c.start,
            "end": c.end,
            "score": hit.score,
        },
    )
