"""Stage 0, offline: embed passages and sentences (``embedding``, the one home of
sentence-transformers and torch), store them in Chroma (``store``, ``locations``), save the
derived files (``derived``), and ingest a corpus folder (``ingest``)."""

from __future__ import annotations

from assistant.index.ingest import IngestReport, ingest, make_plan

__all__ = ["IngestReport", "ingest", "make_plan"]
