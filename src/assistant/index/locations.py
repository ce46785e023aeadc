"""Where an index lives: the one module that imports chromadb.

An index is a series of *generations* and a pointer to the one being served.
Ingest builds a new generation beside the served one, then moves the pointer
in one atomic step: a reader sees the old index or the new one, never a
half-built one, and an ingest killed midway leaves the served index untouched.
Each generation has two collections: ``passages`` (one record per chunk) and
``sentences`` (one per sentence of a chunk, so answers are composed without
re-embedding; assistant.index.store).

Two locations hold generations:

- ``LocalLocation`` (default): a folder, with a Chroma PersistentClient per
  generation::

      <home>/index/                  (assistant.home; or --index)
        CURRENT                      "gen-20261121T195501-3f2a" (replaced atomically)
        gen-20261121T195501-3f2a/
          chroma/                    the collections
          derived/                   passages, sentence vectors and BM25 as files (assistant.index.derived)
          manifest.json              what was indexed, with which model (written first)

- ``ServerLocation`` (``CHROMA_HOST``/``CHROMA_PORT``): a Chroma server over
  HTTP, collections named ``<index>.<generation>.passages`` and the pointer
  plus manifest in one record of ``<index>.meta``. Several stateless app
  workers can share it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import IndexDamagedError, IndexMissingError, StoreUnavailableError
from assistant.home import Home
from assistant.index.store import PASSAGES, SENTENCES, Store

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = ["Location", "LocalLocation", "ServerLocation", "location_for", "missing_index", "open_served"]

# chromadb takes over a second to import; it is imported where a client is made,
# so work that needs none (an unchanged re-ingest, a dry run) does not pay for it.

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
KEEP_GENERATIONS = 2  # the served one and the one before, which a running app may still read


class Location(Protocol):
    """Where an index's generations live, and which one is served."""

    def describe(self) -> str: ...
    def current(self) -> str | None: ...
    def manifest(self) -> dict[str, Any]: ...
    def open(self, generation: str, embedder: Embeddings) -> Store: ...
    def new_generation(self, base: str | None, embedder: Embeddings) -> Store: ...
    def publish(self, generation: str, manifest: dict[str, Any]) -> None: ...
    def remove_old_generations(self) -> list[str]: ...
    def derived_dir(self, generation: str) -> Path: ...
    def damaged(self, generation: str) -> str | None: ...
    def discard(self, generation: str) -> None: ...


def open_served(location: Location, embedder: Embeddings) -> Store:
    """The served generation, or IndexMissingError saying how to build one."""
    generation = location.current()
    if generation is None:
        raise missing_index(location)
    return location.open(generation, embedder)


def missing_index(location: Location) -> IndexMissingError:
    return IndexMissingError(
        f"No index at {location.describe()}. Build it from your articles with "
        "`assistant ingest --corpus FOLDER` (and the same --index, if you gave one)."
    )


def _generation_name() -> str:
    from datetime import datetime, timezone

    return f"gen-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


class LocalLocation:
    """Generations as folders under ``index_dir``; ``CURRENT`` names the served one."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def describe(self) -> str:
        return str(self.index_dir)

    def current(self) -> str | None:
        try:
            name = (self.index_dir / CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not name or "/" in name or not (self.index_dir / name / MANIFEST).exists():
            return None
        return name

    def manifest(self) -> dict[str, Any]:
        name = self.current()
        return _read_json(self.index_dir / name / MANIFEST) if name else {}

    def open(self, generation: str, embedder: Embeddings) -> Store:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path = self.index_dir / generation / "chroma"
        if (self.index_dir / generation / MANIFEST).exists() and not (path / "chroma.sqlite3").is_file():
            # subtle: Chroma would create an empty database here, and retrieval would quietly
            # become keyword search only; a published generation must have its vectors.
            raise IndexDamagedError(
                f"The index at {self.index_dir} is damaged: {path / 'chroma.sqlite3'} is missing. "
                "Run `assistant ingest --rebuild` to rebuild it from the corpus."
            )
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        return Store(client, "", embedder, generation)

    def new_generation(self, base: str | None, embedder: Embeddings) -> Store:
        name = _generation_name()
        try:
            if base is not None:
                # Copying the files is far cheaper than re-inserting every vector.
                shutil.copytree(self.index_dir / base / "chroma", self.index_dir / name / "chroma")
            return self.open(name, embedder)
        except BaseException:
            # subtle: a half-made copy on a full disk would keep the space the served one needs to open.
            shutil.rmtree(self.index_dir / name, ignore_errors=True)
            raise

    def derived_dir(self, generation: str) -> Path:
        """Where the derived files of a generation live (assistant.index.derived): inside it."""
        return self.index_dir / generation / "derived"

    def damaged(self, generation: str) -> str | None:
        """Why a generation's vector database cannot be used (missing, not SQLite, truncated), or None.

        Reads the 100-byte SQLite header only, so an unchanged re-ingest stays instant at any size;
        damage inside the file shows when Chroma opens it (and the chat says so).
        """
        database = self.index_dir / generation / "chroma" / "chroma.sqlite3"
        try:
            with open(database, "rb") as f:
                header = f.read(100)
            size = database.stat().st_size
        except FileNotFoundError:
            return f"{database} is missing"
        except OSError as exc:
            return f"{database} cannot be read ({exc.strerror or exc})"
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return f"{database} is not a SQLite database"
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        # The header's page count is valid when its version-valid-for number equals the change counter.
        if header[24:28] == header[92:96] and pages and size < pages * page_size:
            return f"{database} is truncated ({size:,} of {pages * page_size:,} bytes)"
        return None

    def discard(self, generation: str) -> None:
        """Remove an unpublished generation (what a failed ingest left); never the served one."""
        if generation != self.current():
            shutil.rmtree(self.index_dir / generation, ignore_errors=True)

    def publish(self, generation: str, manifest: dict[str, Any]) -> None:
        _write_atomically(self.index_dir / generation / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        _write_atomically(self.index_dir / CURRENT, generation + "\n")

    def remove_old_generations(self) -> list[str]:
        """Keep the served generation and the one before it (a running app may still read it).

        Leftovers of a killed ingest (no manifest, never published) go too.
        """
        served = self.current()
        generations = sorted(p.name for p in self.index_dir.glob("gen-*") if p.is_dir())
        complete = [g for g in generations if (self.index_dir / g / MANIFEST).exists()]
        keep = set(complete[-KEEP_GENERATIONS:]) | ({served} if served else set())
        removed = [g for g in generations if g not in keep]
        for g in removed:
            shutil.rmtree(self.index_dir / g, ignore_errors=True)
        return removed


class ServerLocation:
    """Generations as collections on a Chroma server; a ``meta`` record names the served one."""

    def __init__(self, host: str, port: int, name: str, cache_dir: Path | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.host, self.port = host, port
        self.name = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_") or "index"
        # Derived files per worker, for indexes on a Chroma server: under the home folder.
        self.cache = (cache_dir or Home.of(None).derived).expanduser() / re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{host}-{port}-{self.name}")
        try:
            self._client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
            self._meta = self._client.get_or_create_collection(f"{self.name}.meta", embedding_function=None)
        except Exception as exc:  # noqa: BLE001 - connection errors come in many types
            raise StoreUnavailableError(
                f"Cannot reach the Chroma server at {host}:{port} ({type(exc).__name__}). "
                "Start it (`chroma run --path DIR --port PORT`) or unset CHROMA_HOST to use a local index."
            ) from exc

    def describe(self) -> str:
        return f"chroma://{self.host}:{self.port}/{self.name}"

    def _pointer(self) -> dict[str, Any] | None:
        got = self._meta.get(ids=["current"], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return {"generation": got["metadatas"][0]["generation"], "manifest": json.loads(got["documents"][0])}

    def current(self) -> str | None:
        pointer = self._pointer()
        return str(pointer["generation"]) if pointer else None

    def manifest(self) -> dict[str, Any]:
        pointer = self._pointer()
        return pointer["manifest"] if pointer else {}

    def open(self, generation: str, embedder: Embeddings) -> Store:
        return Store(self._client, f"{self.name}.{generation}.", embedder, generation)

    def new_generation(self, base: str | None, embedder: Embeddings) -> Store:
        store = self.open(_generation_name(), embedder)
        if base is not None:
            store.copy_from(self.open(base, embedder))
        return store

    def damaged(self, generation: str) -> str | None:
        return None  # the server keeps its own database whole; an unreachable one raises instead

    def discard(self, generation: str) -> None:
        """Delete an unpublished generation's collections (what a failed ingest left)."""
        if generation == self.current():
            return
        for suffix in (PASSAGES, SENTENCES):
            try:
                self._client.delete_collection(f"{self.name}.{generation}.{suffix}")
            except Exception:  # noqa: BLE001 - it may never have been created
                pass
        shutil.rmtree(self.cache / generation, ignore_errors=True)

    def derived_dir(self, generation: str) -> Path:
        """This worker's cached derived files of a generation (assistant.index.derived).

        Asking for a generation not cached yet forgets all but the newest other
        one, so a long-running worker's cache does not grow with every ingest.
        """
        folder = self.cache / generation
        if not folder.exists() and self.cache.is_dir():
            cached = sorted(p for p in self.cache.glob("gen-*") if p.is_dir())
            for old in cached[: -(KEEP_GENERATIONS - 1)]:
                shutil.rmtree(old, ignore_errors=True)
        return folder

    def publish(self, generation: str, manifest: dict[str, Any]) -> None:
        # One record upsert: atomic on the server, so workers see old or new.
        self._meta.upsert(
            ids=["current"],
            embeddings=[[0.0]],
            documents=[json.dumps(manifest, sort_keys=True)],
            metadatas=[{"generation": generation}],
        )

    def remove_old_generations(self) -> list[str]:
        from chromadb.errors import ChromaError

        served = self.current()
        prefix = f"{self.name}.gen-"
        names = sorted({c.name.split(".")[1] for c in self._client.list_collections() if c.name.startswith(prefix)})
        keep = set(names[-KEEP_GENERATIONS:]) | ({served} if served else set())
        removed = [g for g in names if g not in keep]
        for g in removed:
            for suffix in (PASSAGES, SENTENCES):
                try:
                    self._client.delete_collection(f"{self.name}.{g}.{suffix}")
                except (ChromaError, ValueError):
                    pass
        return removed


def location_for(index_dir: Path, chroma_host: str | None = None, chroma_port: int = 8000,
                 home: Path | None = None) -> Location:
    """The server when a Chroma host is configured (derived files cached in ``home``), else the local folder."""
    if chroma_host:
        return ServerLocation(chroma_host, chroma_port, index_dir.name, Home.of(home).derived)
    return LocalLocation(index_dir)


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
