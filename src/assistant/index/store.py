"""One generation of an index: its two collections, ``passages`` (one record per chunk)
and ``sentences`` (one per sentence of a chunk, so answers are composed without
re-embedding). Where generations live, and which is served, is assistant.index.locations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import StoreUnavailableError
from assistant.schema import Chunk

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = ["PASSAGES", "SENTENCES", "SentenceRecord", "Store", "chunk_from_record", "chunk_to_metadata"]

PASSAGES = "passages"
SENTENCES = "sentences"
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
    """The two collections of one generation, on any Chroma client.

    The vectors are made here, with ``embedder``, and written with chromadb's own
    collection API: a passage is stored as itself but embedded with its section
    heading, which a vector store that embeds what it stores cannot do.
    """

    def __init__(self, client: Any, prefix: str, embedder: Embeddings, generation: str) -> None:
        self.embedder = embedder
        self.generation = generation
        self.passages = _collection(client, prefix + PASSAGES)
        self.sentences = _collection(client, prefix + SENTENCES)

    # -- reading -----------------------------------------------------------

    def passage_ids(self) -> set[str]:
        return set(_read_all(self.passages, [])["ids"])

    def chunks(self) -> list[Chunk]:
        got = _read_all(self.passages, ["documents", "metadatas"])
        chunks = [chunk_from_record(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted(chunks, key=lambda c: (c.doc_id, c.start))

    def sentence_table(self) -> tuple[list[SentenceRecord], np.ndarray]:
        """All sentences with their (normalised) vectors, in a stable order."""
        got = _read_all(self.sentences, ["documents", "metadatas", "embeddings"])
        order = sorted(range(len(got["ids"])), key=lambda i: got["ids"][i])
        records = [SentenceRecord(got["ids"][i], str(got["metadatas"][i]["chunk_id"]), got["documents"][i]) for i in order]
        vectors = np.asarray([got["embeddings"][i] for i in order], dtype=np.float32).reshape(len(order), -1)
        return records, vectors

    def search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Ids of the nearest passages with their cosine similarity (1 is identical).

        Only ids and distances come back: the caller holds the passages in
        memory, and fetching texts and metadata would triple the cost.
        """
        try:
            got = self.passages.query(query_embeddings=np.asarray([vector], dtype=np.float32), n_results=k,
                                      include=["distances"])
        except Exception as exc:  # noqa: BLE001 - the HTTP client raises many kinds
            raise StoreUnavailableError(
                "The knowledge base is not reachable right now. Check that the Chroma server is running."
            ) from exc
        return [(str(i), 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0])]

    # -- writing -----------------------------------------------------------

    def add_passages(self, chunks: Sequence[Chunk], texts: Sequence[str]) -> None:
        """Embed ``texts`` (what the model sees) and store them as ``chunks``.

        subtle: the model sees the section heading with the passage, but the stored
        document must be the passage alone so citations quote it exactly.
        """
        self.passages.upsert(
            ids=[c.chunk_id for c in chunks],
            embeddings=self.embedder.embed_documents(list(texts)),
            documents=[c.text for c in chunks],
            metadatas=[chunk_to_metadata(c) for c in chunks],
        )

    def add_sentences(self, records: Sequence[SentenceRecord]) -> None:
        if not records:
            return
        texts = [r.text for r in records]
        self.sentences.upsert(
            ids=[r.sentence_id for r in records],
            embeddings=self.embedder.embed_documents(texts),
            documents=texts,
            metadatas=[{"chunk_id": r.chunk_id} for r in records],
        )

    def delete_passages(self, chunk_ids: Iterable[str]) -> None:
        ids = sorted(chunk_ids)
        if not ids:
            return
        self.passages.delete(ids=ids)
        self.sentences.delete(where={"chunk_id": {"$in": ids}})

    def copy_from(self, other: Store) -> None:
        """Copy every record (with its vector) of another generation into this one."""
        for mine, theirs in ((self.passages, other.passages), (self.sentences, other.sentences)):
            got = _read_all(theirs, ["documents", "metadatas", "embeddings"])
            for i in range(0, len(got["ids"]), 1000):
                mine.upsert(
                    ids=got["ids"][i : i + 1000],
                    embeddings=got["embeddings"][i : i + 1000],
                    documents=got["documents"][i : i + 1000],
                    metadatas=got["metadatas"][i : i + 1000],
                )


def _collection(client: Any, name: str) -> Any:
    # No embedding function: chromadb would otherwise load its own default model.
    return client.get_or_create_collection(name=name, embedding_function=None, configuration=_COSINE)


READ_PAGE = 5000


def _read_all(collection: Any, include: list[str]) -> dict[str, list[Any]]:
    """Every record of a collection, read in pages.

    subtle: one get() of a whole collection fails above ~32k records (SQLite's
    limit on query variables), so a 100k-passage index must be read in pages.
    """
    out: dict[str, list[Any]] = {key: [] for key in ["ids", *include]}
    while True:
        got = collection.get(include=include, limit=READ_PAGE, offset=len(out["ids"]))
        if not len(got["ids"]):
            return out
        for key in out:
            out[key].extend(got[key])
