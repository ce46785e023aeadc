"""Build or update an index from a corpus folder.

Chunk ids derive from content and position, so an unchanged passage keeps its
id: re-running ingest on an unchanged corpus embeds nothing and changes
nothing. Passages that disappeared are deleted. A different embedding model or
chunk size rebuilds the whole index, never a mixture.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.chunking import chunk_documents, embedding_text
from assistant.config import Settings
from assistant.corpus import Skipped, load_corpus
from assistant.embedding import embedder_name
from assistant.schema import Chunk, Document
from assistant.store import SentenceRecord, Store, read_manifest, write_manifest
from assistant.text import sentences

Progress = Callable[[int, int], None]
BATCH = 32
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class IngestReport:
    documents: int
    chunks: int
    added: int
    deleted: int
    unchanged: int
    rebuilt: bool
    seconds: float
    corpus_version: str
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        lines = [
            f"Indexed {self.documents} documents as {self.chunks} passages "
            f"({self.added} embedded, {self.deleted} removed, {self.unchanged} unchanged"
            f"{', full rebuild' if self.rebuilt else ''}) in {self.seconds:.1f} s. "
            f"Corpus version {self.corpus_version}."
        ]
        lines += [f"Skipped {s.path}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def sentence_records(chunk: Chunk) -> list[SentenceRecord]:
    return [
        SentenceRecord(f"{chunk.chunk_id}:{i:03d}", chunk.chunk_id, text)
        for i, (_, _, text) in enumerate(sentences(chunk.text))
    ]


def doc_hash(doc: Document) -> str:
    return hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()[:16]


def corpus_version(docs: dict[str, Any]) -> str:
    """A fingerprint of what is indexed: the documents' ids and content hashes."""
    joined = "\n".join(f"{doc_id}:{info['hash']}" for doc_id, info in sorted(docs.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def ingest(settings: Settings, embedder: Embeddings, progress: Progress | None = None) -> IngestReport:
    """Bring the index at ``settings.index_dir`` in line with ``settings.corpus_dir``."""
    started = time.perf_counter()
    docs, skipped = load_corpus(settings.corpus_dir)
    chunks = chunk_documents(docs, settings.chunk_size)
    wanted = {c.chunk_id: c for c in chunks}

    old = read_manifest(settings.index_dir)
    config = {"model": embedder_name(embedder), "chunk_size": settings.chunk_size, "schema": SCHEMA_VERSION}
    store = Store(settings.index_dir, embedder, create=True)
    rebuild = old.get("config") != config
    if rebuild:
        store.reset()
    existing = store.passage_ids()
    to_add = [c for c in chunks if c.chunk_id not in existing]
    stale = existing - wanted.keys()

    _embed_in_batches(store, to_add, progress)
    store.delete_passages(stale)

    doc_info = {
        d.doc_id: {
            "title": d.title,
            "hash": doc_hash(d),
            "chunk_ids": [c.chunk_id for c in chunks if c.doc_id == d.doc_id],
        }
        for d in docs
    }
    version = corpus_version(doc_info)
    changed = rebuild or bool(to_add) or bool(stale) or old.get("corpus_version") != version
    indexed_at = datetime.now(timezone.utc).isoformat(timespec="seconds") if changed else old.get("indexed_at")
    write_manifest(
        settings.index_dir,
        {
            "config": config,
            "corpus_dir": str(settings.corpus_dir),
            "corpus_version": version,
            "indexed_at": indexed_at,
            "documents": doc_info,
            "passages": len(chunks),
        },
    )
    return IngestReport(
        documents=len(docs),
        chunks=len(chunks),
        added=len(to_add),
        deleted=len(stale),
        unchanged=len(chunks) - len(to_add),
        rebuilt=rebuild and bool(old),
        seconds=time.perf_counter() - started,
        corpus_version=version,
        skipped=tuple(skipped),
    )


def _embed_in_batches(store: Store, chunks: Sequence[Chunk], progress: Progress | None) -> None:
    total = len(chunks)
    if progress:
        progress(0, total)
    for i in range(0, total, BATCH):
        batch = chunks[i : i + BATCH]
        store.add_passages(batch, [embedding_text(c) for c in batch])
        store.add_sentences([r for c in batch for r in sentence_records(c)])
        if progress:
            progress(min(i + BATCH, total), total)
