"""What a start would otherwise rebuild from the store, saved beside each index generation.

Answering needs every passage in memory (BM25, citations), the sentence
vectors of the passages a question retrieves (composition, duplicate
collapse) and a BM25 index. Reading all of that back from Chroma and building
BM25 in Python took about 50 s and 2.5 GB at 100,000 passages. The derived
files make a start a few file reads::

    derived/
      passages.json    the passages in reading order (document, offset)
      sentences.npy    one row per sentence vector; a passage's rows are contiguous.
                       Memory-mapped: only the rows a question touches are read.
      offsets.npy      where each passage's rows start (one more entry than passages)
      bm25.npz, ...    the sparse BM25 index (assistant.retrieval.bm25)
      derived.json     format version and counts; written last, so its presence
                       marks a complete set

A local index keeps them inside the generation's folder (ingest writes them
before it publishes). With a Chroma server, each worker keeps them in its own
cache folder, keyed by generation, and builds them from the server on its
first start. A missing, partial or older set is rebuilt from the store, so
the files are only ever a cache of it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.retrieval.bm25 import SparseBM25
from assistant.corpus.chunking import sentence_texts
from assistant.errors import IndexMissingError
from assistant.retrieval.retrievers import bm25_terms
from assistant.schema import Chunk
from assistant.index.store import Store, chunk_from_record, chunk_to_metadata

FORMAT = 2  # 2: BM25 indexes the corpus's subject words too (queries leave them out)
INFO = "derived.json"


@dataclass(frozen=True)
class Derived:
    chunks: tuple[Chunk, ...]
    offsets: np.ndarray  # int64, len(chunks) + 1
    vectors: np.ndarray  # float32 (sentences, dimensions); a memory map once saved
    bm25: SparseBM25

    @cached_property
    def position(self) -> dict[str, int]:
        return {c.chunk_id: i for i, c in enumerate(self.chunks)}

    def sentence_vectors(self, chunk_id: str) -> np.ndarray:
        """The rows of one passage's sentences (empty for an unknown passage)."""
        i = self.position.get(chunk_id)
        if i is None:
            return self.vectors[:0]
        return self.vectors[int(self.offsets[i]) : int(self.offsets[i + 1])]

    # -- building and files ------------------------------------------------

    @classmethod
    def build(cls, store: Store) -> Derived:
        """Read every passage and sentence vector of ``store`` (the slow path)."""
        chunks = tuple(store.chunks())
        records, vectors = store.sentence_table()
        rows: dict[str, list[int]] = {}
        for row, record in enumerate(records):
            rows.setdefault(record.chunk_id, []).append(row)
        order: list[int] = []
        offsets = [0]
        for chunk in chunks:
            mine = rows.get(chunk.chunk_id, [])
            if len(mine) != len(sentence_texts(chunk)):
                raise IndexMissingError(
                    f"The index's sentences of passage {chunk.chunk_id} do not match its text. "
                    "Rebuild it: remove the index folder (or, on a Chroma server, its collections) and run "
                    "`assistant ingest`."
                )
            order += mine
            offsets.append(len(order))
        dims = vectors.shape[1] if vectors.ndim == 2 else 0
        ordered = vectors[order] if order else np.zeros((0, dims), dtype=np.float32)
        return cls(chunks, np.asarray(offsets, dtype=np.int64), np.ascontiguousarray(ordered, dtype=np.float32),
                   SparseBM25.build([bm25_terms(c) for c in chunks]))

    def save(self, folder: Path) -> None:
        """Write the set into ``folder`` (created whole: a reader never sees half of it)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
        try:
            passages = [{"id": c.chunk_id, "text": c.text, **chunk_to_metadata(c)} for c in self.chunks]
            (tmp / "passages.json").write_text(json.dumps(passages), encoding="utf-8")
            np.save(tmp / "sentences.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
            np.save(tmp / "offsets.npy", self.offsets)
            self.bm25.save(tmp)
            info = {"format": FORMAT, "passages": len(self.chunks), "sentences": int(self.offsets[-1])}
            (tmp / INFO).write_text(json.dumps(info), encoding="utf-8")
            if folder.exists():
                if Derived.load(folder) is not None:  # another worker finished first: its set is the same
                    shutil.rmtree(tmp, ignore_errors=True)
                    return
                # A damaged set: move it aside in one step (a reader holding its files keeps them).
                aside = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-damaged-"))
                folder.rename(aside / folder.name)
                shutil.rmtree(aside, ignore_errors=True)
            tmp.rename(folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path) -> Derived | None:
        """The saved set, or None when it is missing, partial, of another format or damaged."""
        try:
            info = json.loads((folder / INFO).read_text(encoding="utf-8"))
            if info.get("format") != FORMAT:
                return None
            passages = json.loads((folder / "passages.json").read_text(encoding="utf-8"))
            chunks = tuple(chunk_from_record(p["id"], p["text"], p) for p in passages)
            offsets = np.load(folder / "offsets.npy")
            # subtle: a plain view of the map, still paged in lazily, without np.memmap's per-slice overhead
            vectors = np.asarray(np.load(folder / "sentences.npy", mmap_mode="r"))
            bm25 = SparseBM25.load(folder)
        except (OSError, ValueError, KeyError, TypeError, IndexMissingError):
            return None
        if len(chunks) != info.get("passages") or len(offsets) != len(chunks) + 1 or int(offsets[-1]) != len(vectors):
            return None
        return cls(chunks, offsets, vectors, bm25)


def load_or_build(store: Store, folder: Path | None) -> Derived:
    """The saved set for ``store``'s generation, built (and saved when possible) if there is none."""
    if folder is not None and (found := Derived.load(folder)) is not None:
        return found
    derived = Derived.build(store)
    if folder is not None:
        try:
            derived.save(folder)
        except OSError:
            pass  # a read-only index still answers; the next start builds again
        else:
            derived = Derived.load(folder) or derived  # serve from the memory map
    return derived

