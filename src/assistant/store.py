"""The vector store: the one module that imports chromadb.

An index folder holds generations and a pointer to the one being served::

    .assistant/index/
      CURRENT                  "gen-20261121T195501-3f2a" (replaced atomically)
      gen-20261121T195501-3f2a/
        chroma/                Chroma PersistentClient: collections passages, sentences
        manifest.json          what was indexed, with which model (written last)

``passages`` holds one record per chunk; ``sentences`` one per sentence of a
chunk, so answers are composed without re-embedding. Ingest builds a new
generation beside the served one and then swaps ``CURRENT``: a reader sees the
old index or the new one, never a half-built one, and an ingest killed midway
leaves the served index untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
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
CURRENT = "CURRENT"
KEEP_GENERATIONS = 2  # the served one and the one before, which a running app may still read
_COSINE = {"hnsw": {"space": "cosine"}}


@dataclass(frozen=True)
class SentenceRecord:
    sentence_id: str
    chunk_id: str
    text: str


def chunk_to_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
    }
    if chunk.page is not None:  # Chroma metadata cannot hold None
        meta["page"] = chunk.page
    return meta


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta["title"]),
        section=str(meta["section"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        page=int(meta["page"]) if meta.get("page") is not None else None,
    )


class Store:
    """Chroma collections for one index folder.

    >>> store = Store(Path("/tmp/idx"), embedder, create=True)  # doctest: +SKIP
    """

    def __init__(self, index_dir: Path, embedder: Embeddings, *, generation: Path | None = None) -> None:
        """Open the served generation of ``index_dir``, or a given ``generation`` folder."""
        self.index_dir = index_dir
        if generation is None:
            generation = current_generation(index_dir)
            if generation is None:
                raise IndexMissingError(
                    f"No index at {index_dir}. Run `assistant ingest --index {index_dir}` first "
                    "(or `make run`, which builds it)."
                )
        self.generation = generation
        generation.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(generation / "chroma"),
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
        return _read_json(self.generation / MANIFEST)

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


def current_generation(index_dir: Path) -> Path | None:
    """The generation folder being served, or None when there is no complete index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    generation = index_dir / name
    if not name or "/" in name or not (generation / MANIFEST).exists():
        return None
    return generation


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The served generation's manifest ({} when there is no index)."""
    generation = current_generation(index_dir)
    return _read_json(generation / MANIFEST) if generation else {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        # A damaged manifest means "unknown state": the next ingest rebuilds.
        return {}


def _write_atomically(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def new_generation(index_dir: Path, base: Path | None) -> Path:
    """A fresh generation folder, starting as a copy of ``base`` (or empty)."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    generation = index_dir / f"gen-{stamp}-{uuid.uuid4().hex[:6]}"
    if base is not None:
        shutil.copytree(base / "chroma", generation / "chroma")
    else:
        generation.mkdir(parents=True)
    return generation


def publish(index_dir: Path, generation: Path, manifest: dict[str, Any]) -> None:
    """Write the generation's manifest, then make it the served one (one atomic rename)."""
    _write_atomically(generation / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    _write_atomically(index_dir / CURRENT, generation.name + "\n")


def remove_old_generations(index_dir: Path) -> list[str]:
    """Delete generations that are neither served nor the one just before it.

    Leftovers of a killed ingest (no manifest, never published) go too.
    """
    served = current_generation(index_dir)
    generations = sorted(p for p in index_dir.glob("gen-*") if p.is_dir())
    complete = [p for p in generations if (p / MANIFEST).exists()]
    keep = set(complete[-KEEP_GENERATIONS:]) | ({served} if served else set())
    removed = []
    for path in generations:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
