"""Stage 0, offline: embed passages and sentences (``embedding``, the one home of
sentence-transformers and torch), store them in Chroma (``store``, ``locations``), save the
derived files (``derived``), and ingest a corpus folder (``ingest.ingest``; the package does
not re-export it, so ``assistant.index.ingest`` stays the module)."""

from __future__ import annotations

from assistant.index.ingest import IngestReport, make_plan

__all__ = ["IngestReport", "make_plan"]
