"""``Assistant.ask``: triage -> retrieve -> answer. Used by the UI, the CLI and evals alike.

Triage runs first, on the whole message and the conversation, before and
outside retrieval and answering: whatever the sources or the answerer say,
the escalation notice for the tier is put first in the answer.

>>> assistant = Assistant.load(Settings.resolve())      # doctest: +SKIP
>>> assistant.ask("I have a fever after microneedling").notice is not None  # doctest: +SKIP
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.answer import Answerer, Candidate, Composition, Evidence, ExtractiveAnswerer
from assistant.config import Settings
from assistant.corpus import is_stale
from assistant.embedding import load_embedder
from assistant.errors import ConfigError, EmptyQuestionError
from assistant.expansion import Expander, default_expander
from assistant.text import safe_text
from assistant.retrieval import BM25Retriever, CorpusRetriever, DenseRetriever, HybridRetriever, Retriever
from assistant.safety import SafetyTexts, default_texts
from assistant.schema import Answer, Chunk, Citation, Hit, Triage, Turn
from assistant.errors import StoreUnavailableError
from assistant.indexing import location_of
from assistant.store import Location, SentenceRecord, Store, open_served
from assistant.triage import Triager

# Retrieval looks at the start of a very long message only; triage reads all of it.
MAX_QUERY_CHARS = 2000
MAX_MESSAGE_CHARS = 20_000
# A message this short, or one that points back ("that", "it"), is read as a
# follow-up: the previous user turn is added to the retrieval query.
FOLLOW_UP_WORDS = 7
_ANAPHORA = re.compile(r"\b(that|this|it|they|those|these|then|there|same|also|too|what about|and the)\b", re.IGNORECASE)


@dataclass(frozen=True)
class IndexInfo:
    documents: int
    passages: int
    indexed_at: str | None
    corpus_version: str | None
    model: str | None


def extractive_answerer(settings: Settings) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(settings.abstain_threshold, settings.max_sentences,
                              diversity=settings.diversity, spread=settings.sentence_spread)


class Assistant:
    """The product: one object, built once, asked many questions (thread-safe for reading)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embeddings,
        store: Store | None = None,
        triager: Triager | None = None,
        answerer: Answerer | None = None,
        texts: SafetyTexts | None = None,
        expander: Expander | None = None,
        location: Location | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.location = location or location_of(settings)
        self.store = store or open_served(self.location, embedder)
        self.triager = triager or Triager.from_file()
        self.texts = texts or default_texts()
        self.expander = expander or default_expander()
        self.answerer = answerer or extractive_answerer(settings)
        self.reload()

    @classmethod
    def load(
        cls,
        settings: Settings,
        embedder: Embeddings | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Assistant:
        """Open the index at ``settings.index_dir`` (raises IndexMissingError if there is none).

        ``settings.answerer`` other than ``extractive`` plugs in an LLM answerer
        (see assistant.llm); ``env`` carries its base URL and key from the edge.
        """
        if settings.answerer != "extractive" and "answerer" not in kwargs:
            from assistant.llm import make_answerer

            fallback = extractive_answerer(settings)
            kwargs["answerer"] = make_answerer(settings.answerer, settings, fallback=fallback, env=env or {})
        location = location_of(settings)
        built_with = location.manifest().get("config", {}).get("model")
        if built_with and built_with != settings.model:
            raise ConfigError(
                f"The index at {location.describe()} was built with model {built_with!r}, not {settings.model!r}. "
                f"Use --model {built_with} or run `assistant ingest --model {settings.model}` to rebuild it."
            )
        embedder = embedder or load_embedder(settings.model)
        return cls(settings, embedder, open_served(location, embedder), location=location, **kwargs)

    def index_changed(self) -> bool:
        """True when ingest has published a newer index than the one loaded."""
        served = self.location.current()
        return served is not None and served != self.store.generation

    def reload(self) -> None:
        """(Re)read the served index: passages for BM25, sentence vectors for answers.

        Called at start and by the app when ``index_changed()``; a new
        generation published by ingest is picked up without a restart.
        """
        if self.index_changed():
            self.store = open_served(self.location, self.embedder)
        manifest = self.location.manifest()
        chunks = self.store.chunks()
        records, vectors = self.store.sentence_table()
        by_chunk: dict[str, list[tuple[int, SentenceRecord]]] = {}
        for row, record in enumerate(records):
            by_chunk.setdefault(record.chunk_id, []).append((row, record))
        self._chunks = {c.chunk_id: c for c in chunks}
        self._doc_meta = {d: dict(info.get("metadata", {})) for d, info in manifest.get("documents", {}).items()}
        self._sentences = by_chunk
        self._sentence_vectors = vectors
        self._encode = lru_cache(maxsize=512)(self._encode_uncached)
        self.retrievers: dict[str, Retriever] = {
            "bm25": BM25Retriever(chunks),
            "dense": DenseRetriever(self.store.search, self._encode),
        }
        self.retrievers["hybrid"] = HybridRetriever([self.retrievers["bm25"], self.retrievers["dense"]])
        self.info = IndexInfo(
            documents=len(manifest.get("documents", {})),
            passages=len(chunks),
            indexed_at=manifest.get("indexed_at"),
            corpus_version=manifest.get("corpus_version"),
            model=manifest.get("config", {}).get("model"),
        )

    def _encode_uncached(self, text: str) -> tuple[float, ...]:
        return tuple(self.embedder.embed_query(text))

    @property
    def retriever(self) -> Retriever:
        return self.retrievers[self.settings.mode]

    def as_langchain_retriever(self, k: int | None = None) -> CorpusRetriever:
        return CorpusRetriever(retriever=self.retriever, k=k or self.settings.k)

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        """Answer one message. Raises EmptyQuestionError for an empty message."""
        if not isinstance(question, str) or not question.strip():
            raise EmptyQuestionError("The question is empty. Type a question about your skin after microneedling.")
        message = safe_text(question).strip()[:MAX_MESSAGE_CHARS]
        history = [Turn(t.role, safe_text(t.content)) for t in history]
        triage = self.triager.assess(message, history)

        refusal = self.texts.refusal(message)
        if refusal is not None:
            return Answer(
                notice=self.texts.notice(triage.level),
                answer=refusal.text,
                triage=triage,
                abstained=False,
                refused=True,
                corpus_version=self.info.corpus_version,
                answerer="refusal",
                extra={"refusal": refusal.name},
            )
        question = self.contextual_question(message, history)
        query = self.expander.expand(question)
        try:
            hits = self.collapse(self.retriever.retrieve(query, self.settings.k * 2))[: self.settings.k]
        except StoreUnavailableError:
            # Triage needs no store: the notice is still shown, with an honest answer.
            return Answer(notice=self.texts.notice(triage.level), answer=self.texts.unavailable, triage=triage,
                          abstained=True, corpus_version=self.info.corpus_version, answerer="unavailable",
                          extra={"error": "knowledge base unavailable"})
        evidence = self._evidence(query, hits)
        composed = self.answerer.compose(evidence)
        return self._answer(triage, composed)

    def _answer(self, triage: Triage, composed: Composition) -> Answer:
        """The notice comes from triage alone; the body from the answerer, or the abstention text."""
        extra: dict[str, Any] = {}
        if hasattr(self.answerer, "system_prompt_hash"):
            extra["system_prompt_hash"] = self.answerer.system_prompt_hash
            extra["system_prompt_version"] = getattr(self.answerer, "system_prompt_version", None)
            last = getattr(self.answerer, "last", None)
            if last is not None:
                extra["grounding"] = last.to_dict()
        return Answer(
            notice=self.texts.notice(triage.level),
            answer=self.texts.abstention if composed.abstained else composed.answer,
            triage=triage,
            abstained=composed.abstained,
            citations=() if composed.abstained else tuple(self._provenance(c) for c in composed.citations),
            corpus_version=self.info.corpus_version,
            answerer=composed.answerer,
            extra=extra,
        )

    def contextual_question(self, question: str, history: Sequence[Turn] = ()) -> str:
        """The question, with the previous user turn in front when it is a follow-up."""
        question = question.strip()[:MAX_QUERY_CHARS]
        previous = [t.content for t in history if t.role == "user" and t.content.strip()]
        if previous and (len(question.split()) <= FOLLOW_UP_WORDS or _ANAPHORA.search(question)):
            question = f"{previous[-1].strip()[:MAX_QUERY_CHARS]} {question}"
        return question

    def retrieval_query(self, question: str, history: Sequence[Turn] = ()) -> str:
        """What retrieval searches for: the contextual question plus the domain terms of
        the expansion lexicon. Sentences are scored against it too (measured on the
        tune split: scoring against the unexpanded question lost 13 points of coverage)."""
        return self.expander.expand(self.contextual_question(question, history))

    def _provenance(self, c: Citation) -> Citation:
        """Add the document's front-matter provenance, and flag an out-of-date review."""
        meta = {k: v for k, v in self._doc_meta.get(c.doc, {}).items()
                if k in ("source_url", "date", "reviewed", "reviewed_by")}
        return replace(c, source_meta=meta, stale=is_stale(meta, self.settings.review_max_age_days))

    def collapse(self, hits: Sequence[Hit]) -> tuple[Hit, ...]:
        """Merge near-duplicate passages into the best-ranked one.

        Two passages are near-duplicates when, on average, each sentence of the
        lower-ranked one has a sentence in the higher-ranked one with cosine
        similarity of at least ``settings.near_duplicate``. The merged hit remembers the
        others in ``also`` (they support the same content).
        """
        kept: list[Hit] = []
        for hit in hits:
            mine = self._vectors(hit.chunk.chunk_id)
            for i, other in enumerate(kept):
                theirs = self._vectors(other.chunk.chunk_id)
                if len(mine) and len(theirs) and float((mine @ theirs.T).max(axis=1).mean()) >= self.settings.near_duplicate:
                    kept[i] = replace(other, also=other.also + (hit.chunk.chunk_id,))
                    break
            else:
                kept.append(hit)
        return tuple(kept)

    def _vectors(self, chunk_id: str) -> np.ndarray:
        rows = [row for row, _ in self._sentences.get(chunk_id, [])]
        return self._sentence_vectors[rows] if rows else np.zeros((0, 1), dtype=np.float32)

    def _evidence(self, query: str, hits: Sequence[Any]) -> Evidence:
        qvec = np.asarray(self._encode(query), dtype=np.float32)
        candidates: list[Candidate] = []
        for rank, hit in enumerate(hits):
            for position, (row, record) in enumerate(self._sentences.get(hit.chunk.chunk_id, [])):
                candidates.append(Candidate(hit.chunk, record.text, self._sentence_vectors[row], rank, position))
        return Evidence(query, tuple(hits), tuple(candidates), qvec)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._chunks.get(chunk_id)
