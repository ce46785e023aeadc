"""``Assistant.ask``: triage -> scope -> retrieve -> answer. Used by the UI, the CLI and evals alike.

Triage runs first, on the whole message and the conversation, before and
outside retrieval and answering: whatever the sources or the answerer say,
the escalation notice for the tier is put first in the answer.

>>> assistant = Assistant.load(Settings.resolve())      # doctest: +SKIP
>>> assistant.ask("I have a fever after microneedling").notice is not None  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.runnables import Runnable

from assistant.answering.base import Answerer, Composition, Evidence, citation, usable
from assistant.answering.evidence import gather_evidence
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.roles import Reading, Roles, bundled_roles
from assistant.config import Settings
from assistant.corpus.cleaning import is_stale
from assistant.errors import (AssistantError, ConfigError, EmptyQuestionError, IndexDamagedError, IndexMissingError,
                              ModelUnavailableError, StoreUnavailableError)
from assistant.guards import MAX_MESSAGE_CHARS, cap_history, describe_fault
from assistant.index.embedding import load_embedder
from assistant.index.embedding.cache import VectorCache
from assistant.index.ingest import index_config, location_of
from assistant.index.store import Store
from assistant.index.locations import Location, missing_index, open_served
from assistant.retrieval.expansion import Expander, default_expander
from assistant.retrieval.query import MAX_QUERY_CHARS, follow_up_context, retrieval_query
from assistant.retrieval.retrievers import CorpusRetriever, Retriever
from assistant.retrieval.served import IndexInfo, LoadedIndex
from assistant.safety import Triager, bundled_triager
from assistant.safety.notices import SafetyTexts, default_texts
from assistant.safety.semantic import semantic_triager
from assistant.safety.shaping import Shaper
from assistant.schema import Answer, Citation, Hit, ScopeDecision, Triage, Turn, request_from_json
from assistant.scope import Scope
from assistant.scope.requests import load_in_background
from assistant.text import safe_text

__all__ = ["Assistant", "IndexInfo", "LoadedIndex", "runnable_request"]

log = logging.getLogger(__name__)


def runnable_request(request: Any) -> tuple[str, list[Turn]]:
    """``{"question", "history"}`` or a plain string, checked; ValueError says what is wrong."""
    if isinstance(request, str):
        return request, []
    return request_from_json(dict(request) if isinstance(request, Mapping) else request)


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
        scope: Scope | None = None,
        unavailable: str | None = None,
    ) -> None:
        """``unavailable`` (the reason) starts it without an index: triage, notices and refusals
        still work, every other answer says the knowledge base is unavailable, and ``reload``
        tries the index again."""
        self.settings = settings
        self.embedder = embedder
        self.index: LoadedIndex | None = None
        self.unavailable = unavailable
        self.location = location
        self._initial_store = store
        if unavailable is None:
            self.location = location or location_of(settings)
            self._initial_store = store or open_served(self.location, embedder)
        self.encoder = VectorCache(embedder, maxsize=512)
        self.triager = triager or semantic_triager(bundled_triager(), self.encoder.many, settings)
        self.texts = texts or default_texts()
        self.expander = expander or default_expander()
        self.scope = scope or Scope.from_files(threshold=settings.scope_threshold,
                                               is_synonym=self.expander.is_synonym)
        load_in_background()  # the drug dictionary takes about 2 s to unpickle
        self.answerer = answerer or ExtractiveAnswerer.from_settings(settings)
        self.roles: Roles = bundled_roles()
        self.shaper = Shaper(self.roles, self.texts.emergency_body)
        if unavailable is None:
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
        (see assistant.answering.llm); ``env`` carries its base URL and key from the edge.
        """
        if settings.answerer != "extractive" and "answerer" not in kwargs:
            from assistant.answering.llm import make_answerer

            fallback = ExtractiveAnswerer.from_settings(settings)
            kwargs["answerer"] = make_answerer(settings.answerer, settings, fallback=fallback, env=env or {})
        try:
            return cls._load_index(settings, embedder, **kwargs)
        except (IndexMissingError, ConfigError, ModelUnavailableError):
            raise  # a setup step is missing: the message says which
        except Exception as exc:  # a fault of the store: triage needs none, so keep answering
            reason = describe_fault(exc, settings)
            log.warning("%s Answers carry escalation notices only until it is fixed.", reason)
            from assistant.index.embedding import LazyEmbedder  # nothing is embedded until the index is back

            return cls(settings, embedder or LazyEmbedder(settings.model, home=settings.home), unavailable=reason, **kwargs)

    @classmethod
    def _load_index(cls, settings: Settings, embedder: Embeddings | None, **kwargs: Any) -> Assistant:
        location = location_of(settings)
        if location.current() is None:
            raise missing_index(location)  # before the model is loaded (or trained): the next step first
        built = location.manifest().get("config", {})
        built_with = built.get("model")
        if built_with and built_with != settings.model:
            raise ConfigError(
                f"The index at {location.describe()} was built with model {built_with!r}, not {settings.model!r}. "
                f"Use --model {built_with} or run `assistant ingest --model {settings.model}` to rebuild it."
            )
        if built_with and built.get("model_version") != index_config(settings).get("model_version"):
            raise ConfigError(
                f"The index at {location.describe()} was built with an earlier version of {settings.model!r} "
                "(its training questions have changed since). Run `assistant ingest` to rebuild it."
            )
        embedder = embedder or load_embedder(settings.model, home=settings.home)
        return cls(settings, embedder, open_served(location, embedder), location=location, **kwargs)

    @property
    def store(self) -> Store:
        return self._loaded().store

    @property
    def info(self) -> IndexInfo:
        if self.index is None:
            return IndexInfo(0, 0, None, None, None, degraded=(f"knowledge base unavailable: {self.unavailable}",))
        return self.index.info

    @property
    def retrievers(self) -> dict[str, Retriever]:
        return self._loaded().retrievers

    def _loaded(self) -> LoadedIndex:
        if self.index is None:
            raise StoreUnavailableError(f"The knowledge base is unavailable: {self.unavailable}")
        return self.index

    def index_changed(self) -> bool:
        """True when ingest has published a newer index than the one loaded (always, with none loaded)."""
        if self.index is None or self.location is None:
            return True
        served = self.location.current()
        return served is not None and served != self.index.store.generation

    def reload(self) -> None:
        """(Re)read the served index: passages for BM25, sentence vectors for answers.

        Called at start and by the app (when ingest publishes, or on SIGHUP); a new
        generation published by ingest is picked up without a restart. A store that
        cannot be read raises an AssistantError saying what to do; the index being
        served, if any, stays.
        """
        try:
            self._reload()
        except AssistantError as exc:
            if self.index is None and not isinstance(exc, (IndexMissingError, ConfigError)):
                self.unavailable = str(exc)
            raise
        except Exception as exc:
            reason = describe_fault(exc, self.settings)
            if self.index is None:
                self.unavailable = reason
            raise IndexDamagedError(reason) from exc

    def _reload(self) -> None:
        current = self.index
        if current is None:
            if self.location is None:
                self.location = location_of(self.settings)
            store = self._initial_store or open_served(self.location, self.embedder)
            self._initial_store = None
        elif self.index_changed():
            store = open_served(self.location, self.embedder)
        else:
            store = current.store
        assert self.location is not None
        self.index = LoadedIndex.read(
            store, self.location, self.settings, self.encoder,
            lambda texts: np.asarray(self.embedder.embed_documents(list(texts)), dtype=np.float32), previous=current)
        self.unavailable = None

    @property
    def retriever(self) -> Retriever:
        return self.retrievers[self.settings.mode]

    def as_langchain_retriever(self, k: int | None = None) -> CorpusRetriever:
        """The passages alone, as langchain Documents whose metadata carries what a citation
        does (title, section, page, source_url, dates, stale). It runs no triage and no scope
        decision: a chain that answers people should use :meth:`as_runnable`, which keeps them."""
        return CorpusRetriever(retriever=self.retriever, k=k or self.settings.k, describe=self._describe_hit)

    def as_runnable(self) -> Runnable[Any, dict[str, Any]]:
        """The whole product as a langchain Runnable, safety layer included.

        Input ``{"question": str, "history": [{"role", "content"}, ...]}`` (or the question
        alone, as a string); output :meth:`Answer.to_dict`: the escalation ``notice``, the
        ``answer`` and its ``citations``, exactly as :meth:`ask` gives them.

        >>> chain = assistant.as_runnable() | (lambda a: a["notice"])  # doctest: +SKIP
        >>> chain.invoke({"question": "my throat is closing", "history": []})  # doctest: +SKIP
        'Call emergency services ...'
        """
        from langchain_core.runnables import RunnableLambda

        def answer(request: Any) -> dict[str, Any]:
            question, history = runnable_request(request)
            return self.ask(question, history).to_dict()

        return RunnableLambda(answer, name="assistant")

    def _describe_hit(self, hit: Hit) -> dict[str, Any]:
        meta = self._provenance(citation(0, hit.chunk, hit.score), self._loaded()).to_dict()
        for key in ("n", "text", "sentences", "also"):
            meta.pop(key, None)
        return {**meta, "doc_id": hit.chunk.doc_id, "start": hit.chunk.start, "end": hit.chunk.end}

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        """Answer one message. Raises EmptyQuestionError for an empty message."""
        prepared = self.prepare(question, history)
        if isinstance(prepared, Answer):
            return prepared
        index, triage, evidence, decision = prepared
        return self._answer(index, triage, evidence, self.answerer.compose(evidence), decision)

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[Answer]:
        """Provisional answers while a streaming answerer writes, then the final one (always last).

        Every provisional answer already carries the notice; its text is only
        sentences that passed the grounding check. The extractive answerer, and
        any answerer under an escalation notice (whose body the tier shapes once
        it is complete), yield just the final answer.
        """
        prepared = self.prepare(question, history)
        if isinstance(prepared, Answer):
            yield prepared
            return
        index, triage, evidence, decision = prepared
        streamer = getattr(self.answerer, "stream", None)
        if streamer is None or triage.escalated:
            yield self._answer(index, triage, evidence, self.answerer.compose(evidence), decision)
            return
        stream = streamer(evidence)
        text = ""
        for delta in stream:
            text = f"{text} {delta}".strip()
            yield Answer(notice=self.texts.notice_for(triage), answer=text, triage=triage, abstained=False,
                         corpus_version=index.info.corpus_version, answerer="streaming", scope=decision)
        yield self._answer(index, triage, evidence, stream.composition, decision)

    def prepare(self, question: str, history: Sequence[Turn]
                 ) -> Answer | tuple[LoadedIndex, Triage, Evidence, ScopeDecision]:
        """Triage first, then the scope decision (a refusal, or what retrieval found covers):
        a finished Answer, or what the answerer needs."""
        if not isinstance(question, str) or not question.strip():
            raise EmptyQuestionError("The question is empty. Type a question about your skin.")
        index = self.index  # one snapshot for the whole question
        # Triage reads every character that was sent, as sent: its own normalisation
        # undoes invisible and look-alike characters, which safe_text would split words on.
        message = safe_text(question).strip()[:MAX_MESSAGE_CHARS]
        # subtle: triage reads every earlier user turn; the caps are for retrieval and answering,
        # and an emergency ten exchanges ago must still be read.
        clean_history = [Turn(t.role, safe_text(t.content)) for t in cap_history(history)]
        try:
            query: str | None = self.retrieval_query(message, clean_history, index)
        except Exception:  # noqa: BLE001 - triage must still run, and the notice reach the user
            log.exception("building the retrieval query failed")
            query = None
        # The retrieval query is embedded with triage's sentences, in one encoder batch. (The words
        # scope weighs are not: padded to a sentence's length in that batch they cost more than
        # a small batch of their own.)
        triage = self.triager.assess(question, history, also_encode=(query,) if query else ())
        if query is None:
            return Answer(notice=self.texts.notice_for(triage), answer=self.texts.unavailable, triage=triage,
                          abstained=True, corpus_version=None, answerer="error",
                          extra={"error": "the question could not be prepared"})
        history = clean_history
        notice = self.texts.notice_for(triage)
        version = index.info.corpus_version if index is not None else None

        too_long = self.size_note(question, triage, notice, version)
        if too_long is not None:
            return too_long
        # "how many mg should I take?" is about the medicine the exchange before it named.
        earlier = " ".join(t.content[:MAX_QUERY_CHARS] for t in history[-2:])
        try:
            refusal = self.scope.refusal(message[:MAX_QUERY_CHARS], earlier)
        except Exception:  # noqa: BLE001 - the notice must still reach the user
            log.exception("the refusal check failed")
            refusal = None
        if refusal is not None:
            return Answer(notice=notice, answer=refusal.note, triage=triage, abstained=False, refused=True,
                          corpus_version=version, answerer="refusal", extra={"refusal": refusal.reason},
                          scope=refusal)
        if index is None:  # started without a readable index: the notice, and an honest answer
            return Answer(notice=notice, answer=self.texts.unavailable, triage=triage, abstained=True,
                          corpus_version=None, answerer="unavailable",
                          extra={"error": "knowledge base unavailable", "degraded": list(self.info.degraded)})
        try:
            found = index.retrievers[self.settings.mode].retrieve(query, self.settings.k * 2)
        except StoreUnavailableError:
            # Triage needs no store: the notice is still shown, with an honest answer.
            return Answer(notice=notice, answer=self.texts.unavailable, triage=triage, abstained=True,
                          corpus_version=version, answerer="unavailable",
                          extra={"error": "knowledge base unavailable"})
        hits = self.collapse(found, index)[: self.settings.k]
        subject = index.scope.subject  # "after microneedling" reads as "after treatment"
        try:
            reading = self.roles.read(subject.generic(message[:MAX_QUERY_CHARS]),
                                      [subject.generic(t.content[:MAX_QUERY_CHARS]) for t in history
                                       if t.role == "user"])
        except Exception:  # noqa: BLE001 - the question is still answered, with no phase preferred
            log.exception("reading the question's phase failed")
            reading = Reading()
        evidence = self.evidence(query, hits, index, reading)
        try:
            decision = self.decide(message, evidence, index, self.follow_up_context(message, history),
                                   quiet=triage.level != "none")
        except Exception:  # noqa: BLE001 - the notice must still reach the user; the sources are quoted as before
            log.exception("the scope decision failed")
            decision = ScopeDecision("answer", reason="the scope check failed; answered from the retrieved sentences")
        if decision.decision == "not covered" and triage.level == "emergency":
            return Answer(notice=notice, answer=self.texts.emergency_body, triage=triage, abstained=True,
                          corpus_version=version, answerer="scope", scope=decision)
        if decision.decision == "not covered":
            best = max(evidence.candidates, key=lambda c: float(c.vector @ evidence.query_vector), default=None)
            nearest = best.chunk.section if best is not None else None
            closeness = float(best.vector @ evidence.query_vector) if best is not None else 0.0
            return Answer(notice=notice, answer=self.scope.not_covered_text(decision, index.scope, nearest, closeness),
                          triage=triage, abstained=True, corpus_version=version, answerer="scope", scope=decision)
        return index, triage, evidence, decision

    def decide(self, message: str, evidence: Evidence, index: LoadedIndex, context: Sequence[str] = (),
               quiet: bool = False) -> ScopeDecision:
        """The scope decision for a question and what retrieval found for it (``context``: the
        earlier turn a follow-up leans on; ``quiet``: a red flag was found, so the reply names none
        of the user's words and answers no question in part)."""
        quotable = [c for c in evidence.candidates if usable(c.text)]
        dense = [float(c.vector @ evidence.query_vector) for c in quotable]
        return self.scope.decide(message[:MAX_QUERY_CHARS], index.scope, [c.text for c in quotable], dense,
                                 self.encoder.many, context=" ".join(context), quiet=quiet)

    def size_note(self, question: str, triage: Triage, notice: str | None, version: str | None) -> Answer | None:
        """For a message over MAX_MESSAGE_CHARS: a note asking for a shorter one, never a silent cut.

        ``notice`` is triage's, which has read the message."""
        length = len(question.strip())
        if length <= MAX_MESSAGE_CHARS:
            return None
        return Answer(notice=notice, answer=self.texts.message_too_long(length, MAX_MESSAGE_CHARS),
                      triage=triage, abstained=True, corpus_version=version, answerer="too-long",
                      extra={"too_long": {"length": length, "limit": MAX_MESSAGE_CHARS}})

    def _answer(self, index: LoadedIndex, triage: Triage, evidence: Evidence, composed: Composition,
                decision: ScopeDecision) -> Answer:
        """The notice comes from triage alone; the body from the answerer, shaped by the tier
        (assistant.safety.shaping), or the abstention text; a partial answer's line on what is not
        covered is ``decision.note``."""
        # What the answerer reports (an LLM answerer's prompt and grounding report) is about what it
        # wrote, before the tier shaped it.
        extra: dict[str, Any] = {"reading": evidence.reading.to_dict(), **composed.extra}
        try:
            composed = self.shaper.shape(composed, evidence, triage.level)
        except Exception:  # noqa: BLE001 - under an emergency the fixed body, never unshaped advice
            log.exception("shaping the answer for its tier failed")
            if triage.level == "emergency":
                composed = Composition(self.texts.emergency_body, (), abstained=True, relevance=0.0, answerer="safety")
        fixed = composed.answerer == "safety" and composed.abstained  # the emergency body: its own text
        return Answer(
            notice=self.texts.notice_for(triage),
            answer=composed.answer if fixed or not composed.abstained else self.texts.abstention,
            triage=triage,
            abstained=composed.abstained,
            citations=() if composed.abstained else tuple(self._provenance(c, index) for c in composed.citations),
            corpus_version=index.info.corpus_version,
            answerer=composed.answerer,
            extra=extra,
            scope=decision,
        )

    def follow_up_context(self, question: str, history: Sequence[Turn] = ()) -> list[str]:
        """The previous user turn when the question is a follow-up (assistant.retrieval.query)."""
        return follow_up_context(question, history)

    def retrieval_query(self, question: str, history: Sequence[Turn] = (), index: LoadedIndex | None = None) -> str:
        """What retrieval searches for (assistant.retrieval.query), with the corpus's subject
        taken from the caller's snapshot, so a reload mid-question changes nothing."""
        index = index or self.index
        return retrieval_query(self.expander, question, history, index.scope.subject if index is not None else None)

    def _provenance(self, c: Citation, index: LoadedIndex) -> Citation:
        """Add the document's front-matter provenance, and flag an out-of-date review."""
        meta = {k: v for k, v in index.doc_meta.get(c.doc, {}).items()
                if k in ("source_url", "date", "reviewed", "reviewed_by")}
        return replace(c, source_meta=meta, stale=is_stale(meta, self.settings.review_max_age_days))

    def collapse(self, hits: Sequence[Hit], index: LoadedIndex | None = None) -> tuple[Hit, ...]:
        """Near-duplicate passages merged into the best-ranked one (``LoadedIndex.collapse``)."""
        return (index or self._loaded()).collapse(hits, self.settings.duplicate_passages)

    def evidence(self, query: str, hits: Sequence[Hit], index: LoadedIndex | None = None,
                 reading: Reading | None = None) -> Evidence:
        """The sentences of ``hits`` an answerer may quote (never one that discourages care)."""
        return gather_evidence(query, self.encoder(query), hits, index or self._loaded(),
                               lambda text: not self.texts.discourages_care(text), reading)
