"""Build or update an index from a corpus folder.

Chunk ids derive from content and position, so an unchanged passage keeps its
id. An ingest first makes a plan (which documents are added, changed, removed
or unchanged); an unchanged corpus needs no model and no writes at all.
Otherwise it copies the served generation, embeds only the new passages,
deletes the stale ones, and publishes the copy atomically (assistant.index.locations). A
different embedding model or chunk size rebuilds from empty, never a mixture.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.corpus.chunking import chunk_documents, embedding_text, sentence_texts
from assistant.config import Settings
from assistant.corpus.cleaning import Skipped, load_corpus
from assistant.index.embedding import model_version
from assistant.errors import AssistantError, CorpusError
from assistant.corpus.lint import care_discouraging
from assistant.schema import Chunk, Document
from assistant.scope.subject import derive_subject
from assistant.index.store import SentenceRecord, Store
from assistant.index.locations import Location, location_for
from assistant.text import overlapping

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

Progress = Callable[[int, int], None]
BATCH = 32
# Documents sharing this much of their sentences are reported (not skipped):
# an editor may have saved the same article twice under different names.
NEAR_DUPLICATE_DOCS = 0.8
SCHEMA_VERSION = 5  # bump when chunking, sentence splitting or the manifest changes: forces a rebuild (5: the subject slot)


@dataclass(frozen=True)
class Plan:
    """What an ingest will do, per document and per passage."""

    docs: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    to_embed: tuple[Chunk, ...]
    to_delete: tuple[str, ...]
    rebuild: bool
    config: dict[str, Any]
    passages: int = 0  # passages in the corpus (known without chunking when nothing changed)
    warnings: tuple[str, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not (self.to_embed or self.to_delete or self.rebuild or self.added or self.changed or self.removed)

    def describe(self) -> str:
        lines = [f"{'Rebuild' if self.rebuild else 'Update'} plan for {len(self.docs)} documents:"]
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed),
                             ("unchanged", self.unchanged)):
            lines.append(f"  {label:9} {len(names):3}  {', '.join(names)}".rstrip())
        lines.append(f"  passages to embed: {len(self.to_embed)}, to delete: {len(self.to_delete)}")
        lines += [f"  skipped   {s.path}: {s.reason}" for s in self.skipped]
        lines += [f"  warning   {w}" for w in self.warnings]
        return "\n".join(lines)


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
    warnings: tuple[str, ...] = ()
    subject: str = ""  # what the corpus is about, read from its documents

    def summary(self) -> str:
        lines = [
            f"Indexed {self.documents} documents as {self.chunks} passages "
            f"({self.added} embedded, {self.deleted} removed, {self.unchanged} unchanged"
            f"{', full rebuild' if self.rebuilt else ''}) in {self.seconds:.1f} s. "
            f"Corpus version {self.corpus_version}."
            + (f" Subject, from the documents: {self.subject}." if self.subject else
               " No subject could be read from the titles: questions are judged on the passages' words alone.")
        ]
        lines += [f"Skipped {s.path}: {s.reason}" for s in self.skipped]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def sentence_records(chunk: Chunk) -> list[SentenceRecord]:
    return [
        SentenceRecord(f"{chunk.chunk_id}:{i:03d}", chunk.chunk_id, text)
        for i, text in enumerate(sentence_texts(chunk))
    ]


def doc_hash(doc: Document) -> str:
    return hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()[:16]


def corpus_version(docs: dict[str, Any]) -> str:
    """A fingerprint of what is indexed: the documents' ids and content hashes."""
    joined = "\n".join(f"{doc_id}:{info['hash']}" for doc_id, info in sorted(docs.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def corpus_of(settings: Settings, location: Location | None = None) -> Path:
    """The corpus folder to read: the one chosen (``--corpus``, ASSISTANT_CORPUS), else the
    one the served index was built from, so a re-ingest from any folder needs no flag.
    Raises CorpusError with the one command to run when there is neither."""
    if settings.corpus_dir is not None:
        return settings.corpus_dir
    recorded = (location or location_of(settings)).manifest().get("corpus_dir")
    if recorded and Path(recorded).is_dir():
        return Path(recorded)
    where = f" (the index was built from {recorded}, which is gone)" if recorded else ""
    raise CorpusError(
        f"No corpus folder chosen{where}. Give the folder of your articles (.md, .txt, .html, .pdf, .docx): "
        "assistant ingest --corpus FOLDER"
    )


def location_of(settings: Settings) -> Location:
    return location_for(settings.index_dir, settings.chroma_host or None, settings.chroma_port, settings.home)


def index_config(settings: Settings) -> dict[str, Any]:
    """What the index's vectors depend on besides the documents; a change rebuilds it."""
    config: dict[str, Any] = {"model": settings.model, "chunk_size": settings.chunk_size, "schema": SCHEMA_VERSION}
    version = model_version(settings.model)
    if version:
        config["model_version"] = version
    return config


def make_plan(settings: Settings, location: Location | None = None, fresh: bool = False) -> Plan:
    """Compare the corpus folder with the served index. Loads no model."""
    location = location or location_of(settings)
    docs, skipped = load_corpus(corpus_of(settings, location))
    old = location.manifest()
    served = location.current()
    if fresh or (served is not None and location.damaged(served)):
        old = {}  # a damaged index is rebuilt from scratch: nothing in it can be reused
    config = index_config(settings)
    rebuild = old.get("config") != config
    old_docs: dict[str, Any] = {} if rebuild else old.get("documents", {})
    new_hashes = {d.doc_id: doc_hash(d) for d in docs}
    if not rebuild and new_hashes == {d: info.get("hash") for d, info in old_docs.items()}:
        # Same documents, same settings: chunking is deterministic, so nothing can
        # have changed; skip it (and its imports) to keep an unchanged re-ingest instant.
        return Plan(docs=tuple(docs), chunks=(), added=(), changed=(), removed=(), unchanged=tuple(new_hashes),
                    skipped=tuple(skipped), to_embed=(), to_delete=(), rebuild=False, config=config,
                    passages=int(old.get("passages", 0)))
    warnings = tuple(
        f"{docs[j].doc_id} repeats {docs[i].doc_id} ({share:.0%} of its sentences); keep one unless both are meant"
        for i, j, share in overlapping([d.text for d in docs], NEAR_DUPLICATE_DOCS)
    ) + tuple(str(finding) for finding in care_discouraging(docs))
    chunks = chunk_documents(docs, settings.chunk_size)
    existing = {cid for info in old_docs.values() for cid in info.get("chunk_ids", [])}
    wanted = {c.chunk_id for c in chunks}
    return Plan(
        docs=tuple(docs),
        chunks=tuple(chunks),
        added=tuple(d for d in new_hashes if d not in old_docs),
        changed=tuple(d for d, h in new_hashes.items() if d in old_docs and old_docs[d].get("hash") != h),
        removed=tuple(sorted(set(old_docs) - set(new_hashes))),
        unchanged=tuple(d for d, h in new_hashes.items() if d in old_docs and old_docs[d].get("hash") == h),
        skipped=tuple(skipped),
        to_embed=tuple(c for c in chunks if c.chunk_id not in existing),
        to_delete=tuple(sorted(existing - wanted)),
        rebuild=rebuild,
        config=config,
        passages=len(chunks),
        warnings=warnings,
    )


def ingest(
    settings: Settings,
    embedder: Embeddings,
    progress: Progress | None = None,
    plan: Plan | None = None,
) -> IngestReport:
    """Bring the index at ``settings.index_dir`` in line with ``settings.corpus_dir``."""
    started = time.perf_counter()
    location = location_of(settings)
    plan = plan or make_plan(settings, location)
    old = location.manifest()
    served = location.current()
    subject = derive_subject([d.title for d in plan.docs], [d.text for d in plan.docs])
    if plan.is_noop and served is not None:
        version = str(old.get("corpus_version"))
    else:
        doc_info = {
            d.doc_id: {
                "title": d.title,
                "hash": doc_hash(d),
                "metadata": dict(d.metadata),
                "chunk_ids": [c.chunk_id for c in plan.chunks if c.doc_id == d.doc_id],
            }
            for d in plan.docs
        }
        version = corpus_version(doc_info)
        try:
            store = location.new_generation(None if plan.rebuild else served, embedder)
        except OSError as exc:
            raise _write_failed(location, exc) from exc
        except Exception:  # noqa: BLE001 - the served generation cannot be opened (chromadb raises its own)
            if plan.rebuild or served is None:
                raise
            # Damaged inside (its header looked whole): rebuild from the corpus, reusing nothing.
            return ingest(settings, embedder, progress, plan=make_plan(settings, location, fresh=True))
        try:
            _embed_in_batches(store, plan.to_embed, progress)
            store.delete_passages(plan.to_delete)
            from assistant.index.derived import Derived  # scipy: only when something changed

            # Saved before publishing, so no start after it rebuilds them.
            Derived.build(store).save(location.derived_dir(store.generation))
            location.publish(
                store.generation,
                {
                    "config": plan.config,
                    "corpus_dir": str(corpus_of(settings, location).resolve()),
                    "corpus_version": version,
                    "indexed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "documents": doc_info,
                    "passages": plan.passages,
                    # What the corpus is about, read from its documents (assistant.scope.subject).
                    "scope": {"subject": subject.to_dict()},
                },
            )
        except BaseException as exc:
            # A partial generation (on a full disk, say) would keep the space the old one needs.
            location.discard(store.generation)
            if isinstance(exc, OSError):
                raise _write_failed(location, exc) from exc
            raise
    location.remove_old_generations()
    return IngestReport(
        documents=len(plan.docs),
        chunks=plan.passages,
        added=len(plan.to_embed),
        deleted=len(plan.to_delete),
        unchanged=plan.passages - len(plan.to_embed),
        rebuilt=plan.rebuild and bool(old),
        seconds=time.perf_counter() - started,
        corpus_version=version,
        skipped=plan.skipped,
        warnings=plan.warnings,
        subject=subject.name,
    )


def _write_failed(location: Location, exc: OSError) -> AssistantError:
    reason = exc.strerror or str(exc)
    if isinstance(exc, shutil.Error) and exc.args and exc.args[0]:  # copytree: [(src, dst, "[Errno 28] ...")]
        first = str(exc.args[0][0][2]) if isinstance(exc.args[0], list) else str(exc.args[0])
        reason = re.sub(r"^\[Errno \d+\] ([^:]+).*$", r"\1", first)
    return AssistantError(
        f"Ingest failed writing the index at {location.describe()}: {reason}. Free some space or fix the "
        "folder's permissions, then run `assistant ingest` again; the index being served is unchanged."
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
