"""Stage 0, offline: read the articles of a corpus folder (``formats``, one module per
format), clean them (``cleaning``), chunk them (``chunking``), and lint them (``lint``)."""

from __future__ import annotations

from assistant.corpus.chunking import chunk_documents
from assistant.corpus.cleaning import load_corpus

__all__ = ["chunk_documents", "load_corpus"]
