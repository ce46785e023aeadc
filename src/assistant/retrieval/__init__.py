"""Stage 3, retrieval: what retrieval searches for (``query``: follow-ups, expansion), the
lexical, dense and hybrid retrievers behind one ``retrieve(query, k)``, and the served
index in memory (``served``)."""

from __future__ import annotations

from assistant.retrieval.retrievers import BM25Retriever, CorpusRetriever, DenseRetriever, HybridRetriever, Retriever

__all__ = ["BM25Retriever", "CorpusRetriever", "DenseRetriever", "HybridRetriever", "Retriever"]
