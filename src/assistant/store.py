"""The vector store: the one module that imports chromadb.

An index folder holds a Chroma PersistentClient database with two
collections, ``passages`` (one record per chunk) and ``sentences`` (one record
per sentence of a chunk, used to compose answers without re-embedding), plus
``manifest.json``, written last, which says what was indexed and with which
model. A folder without a manifest is not an index.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings

from assistant.errors import IndexMissingError
from assistant.schema import Chunk

PASSAGES = "passages"
SENTENCES = "sentences"
MANIFEST = "manifest.json"
_COSINE = {"hnsw": {"space": "cosine"}}


@dataclass(frozen=True)
class SentenceRecord:
    sentence_id: str
    chunk_id: str
    text: str


def chunk_to_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
    }


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta["title"]),
        section=str(meta["section"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
    )


class Store:
    """Chroma collections for one index folder.

    >>> store = Store(Path("/tmp/idx"), embedder, create=True)  # doctest: +SKIP
    """

    def __init__(self, index_dir: Path, embedder: Embeddings, *, create: bool = False) -> None:
        self.index_dir = index_dir
        if not create and not (index_dir / MANIFEST).exists():
            raise IndexMissingError(
                f"No index at {index_dir}. Run `assistant ingest --index {index_dir}` first "
                "(or `make run`, which builds it)."
            )
        index_dir.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(index_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
        )
        self.passages = self._collection(PASSAGES, embedder)
        self.sentences = self._collection(SENTENCES, embedder)

    def _collection(self, name: str, embedder: Embeddings) -> Chroma:
        return Chroma(
            collection_name=name,
            embedding_function=embedder,
            client=self._client,
            collection_configuration=_COSINE,
        )

    # -- reading -----------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.index_dir)

    def passage_ids(self) -> set[str]:
        return set(self.passages.get(include=[])["ids"])

    def chunks(self) -> list[Chunk]:
        got = self.passages.get(include=["documents", "metadatas"])
        chunks = [chunk_from_record(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted(chunks, key=lambda c: (c.doc_id, c.start))

    def sentence_table(self) -> tuple[list[SentenceRecord], np.ndarray]:
        """All sentences with their (normalised) vectors, in a stable order."""
        got = self.sentences.get(include=["documents", "metadatas", "embeddings"])
        order = sorted(range(len(got["ids"])), key=lambda i: got["ids"][i])
        records = [SentenceRecord(got["ids"][i], str(got["metadatas"][i]["chunk_id"]), got["documents"][i]) for i in order]
        vectors = np.asarray([got["embeddings"][i] for i in order], dtype=np.float32).reshape(len(order), -1)
        return records, vectors

    def search(self, vector: Sequence[float], k: int) -> list[tuple[Chunk, float]]:
        """Nearest passages by cosine similarity (1 is identical)."""
        results = self.passages.similarity_search_by_vector_with_relevance_scores(list(vector), k=k)
        return [
            (chunk_from_record(str(doc.id), doc.page_content, doc.metadata), 1.0 - float(distance))
            for doc, distance in results
        ]

    # -- writing -----------------------------------------------------------

    def add_passages(self, chunks: Sequence[Chunk], texts: Sequence[str]) -> None:
        """Embed ``texts`` (what the model sees) and store them as ``chunks``."""
        vectors = self.passages.embeddings.embed_documents(list(texts))  # type: ignore[union-attr]
        # subtle: the model sees the section heading with the passage, but the
        # stored document must be the passage alone so citations quote it exactly;
        # langchain's add_texts cannot store one text and embed another.
        self.passages._collection.upsert(
            ids=[c.chunk_id for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=[chunk_to_metadata(c) for c in chunks],
        )

    def add_sentences(self, records: Sequence[SentenceRecord]) -> None:
        if not records:
            return
        self.sentences.add_documents(
            [LCDocument(page_content=r.text, metadata={"chunk_id": r.chunk_id}) for r in records],
            ids=[r.sentence_id for r in records],
        )

    def delete_passages(self, chunk_ids: Iterable[str]) -> None:
        ids = sorted(chunk_ids)
        if not ids:
            return
        self.passages.delete(ids=ids)
        self.sentences.delete(where={"chunk_id": {"$in": ids}})

    def reset(self) -> None:
        """Drop everything, for a rebuild with another model or chunking."""
        self.passages.reset_collection()
        self.sentences.reset_collection()


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = index_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        # A damaged manifest means "unknown state": the next ingest rebuilds.
        return {}


def write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    """Write atomically: a reader sees the old manifest or the new one, never half."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / MANIFEST)
