"""The service behind the chat: ask (streamed), reload, article pages, feedback; no gradio.

``Service`` is what the layout's handlers call, so everything the chat does is
tested without a server. Each browser session keeps its own ``Session``: the
messages shown (HTML from ``assistant.ui.render``) and the plain turns the
pipeline reads.

    service = Service(assistant)
    for session, status in service.respond("Is redness normal?", Session()):
        ...  # show session.messages; status is a line for the patient, or ""
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.answering import markers
from assistant.corpus.cleaning import load_corpus
from assistant.errors import AssistantError, EmptyQuestionError
from assistant.guards import MAX_HISTORY_TURNS, MAX_MESSAGE_CHARS
from assistant.schema import Answer, Document, Turn
from assistant.ui.feedback import REASONS, Feedback, FeedbackStore, Rating
from assistant.ui.render import (
    render_answer,
    render_article_page,
    render_error,
    render_info,
    render_notice,
    render_pending,
    render_user,
    shown_message,
)

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong; please try again."
EMPTY_PROMPT = "Please type your question first, for example: “Is redness normal two days after treatment?”"


@dataclass
class Exchange:
    """One answered question, kept in the session so feedback can refer to it."""

    question: str
    history: tuple[Turn, ...]
    answer: dict[str, Any]
    feedback_id: int | None = None


@dataclass
class Session:
    """Per-browser-session state: what is shown, and the raw turns the pipeline sees."""

    messages: list[dict[str, str]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    exchanges: dict[int, Exchange] = field(default_factory=dict)
    rating: tuple[int, Rating] | None = None  # (message index, thumbs) awaiting "Send feedback"


class Service:
    """What the UI does, without gradio: ask with streaming, reload, store feedback."""

    def __init__(self, assistant: Assistant, feedback: FeedbackStore | None = None) -> None:
        self.assistant = assistant
        self.feedback = feedback
        # Gradio runs handlers on worker threads; reload() swaps the index under ask().
        self._lock = threading.Lock()
        # Replaced whole on reload (never mutated), so the article route reads it without the lock.
        self.documents: dict[str, Document] = {}
        self.titles: list[str] = []
        self._read_sources()

    def _read_sources(self) -> None:
        """Whole articles for "Read the whole article": from the corpus folder the settings name, else the one the index was built from."""
        try:
            from assistant.index.ingest import corpus_of

            docs, _ = load_corpus(corpus_of(self.assistant.settings, self.assistant.location))
            self.documents = {d.doc_id: d for d in docs}
        except AssistantError as exc:
            log.warning("Whole articles unavailable (%s); answers still show the cited passages.", exc)
            self.documents = {}
        try:
            manifest = self.assistant.location.manifest()
            self.titles = [str(d.get("title", doc_id)) for doc_id, d in sorted(manifest.get("documents", {}).items())]
        except Exception:  # the panel is informative only; never fail the app for it
            self.titles = []

    def info_html(self) -> str:
        return render_info(self.assistant.info, self.titles)

    def article_page(self, doc_id: str) -> str | None:
        """The page of one served article, or None when ``doc_id`` is not one (the route's 404).

        Only a key of ``documents`` is ever looked up: the id never reaches the file system.
        """
        doc = self.documents.get(doc_id)
        return render_article_page(doc, self.assistant.texts.disclaimer) if doc is not None else None

    def reload(self) -> tuple[str, str]:
        """Re-read the index; returns (panel html, status line)."""
        try:
            with self._lock:
                self.assistant.reload()
                self._read_sources()
        except AssistantError as exc:
            log.warning("Could not reload the index: %s", exc)
            return self.info_html(), f"Could not reload: {exc}"
        except Exception as exc:
            log.warning("Could not reload the index: %s", exc)
            return self.info_html(), GENERIC_ERROR
        info = self.assistant.info
        return self.info_html(), f"Reloaded: {info.documents} documents, {info.passages} passages."

    def _fallback_notice(self, question: str, history: Sequence[Turn]) -> str:
        """Triage alone, for when answering failed: the escalation must still be shown if it applies."""
        try:
            triage = self.assistant.triager.assess(question, history)
            return render_notice(triage.level, self.assistant.texts.notice_for(triage), triage.signals)
        except Exception:
            log.exception("fallback triage failed")
            return ""

    def respond(self, message: str, session: Session) -> Iterator[tuple[Session, str]]:
        """Yield (session, status) after each change to ``session.messages``."""
        question = (message or "").strip()
        if not question:
            yield session, EMPTY_PROMPT
            return
        history = tuple(session.turns)
        prefix = f"a{uuid.uuid4().hex[:8]}"
        session.messages += [
            {"role": "user", "content": render_user(shown_message(question))},
            {"role": "assistant", "content": render_pending(prefix)},
        ]
        index = len(session.messages) - 1
        yield session, ""
        disclaimer = self.assistant.texts.disclaimer
        answer: Answer | None = None
        try:
            # No lock: the assistant answers from one snapshot of its index, so a
            # reload meanwhile is safe, and patients never wait for each other.
            for answer in self.assistant.stream(question, history):
                if answer.answerer == "streaming":  # grounded sentences of an LLM, as they come
                    session.messages[index]["content"] = render_answer(
                        answer, prefix, disclaimer, self.documents, provisional=True
                    )
                    yield session, ""
        except EmptyQuestionError:
            session.messages[index]["content"] = render_error(EMPTY_PROMPT, prefix)
            yield session, ""
            return
        except AssistantError as exc:
            session.messages[index]["content"] = render_error(str(exc), prefix, self._fallback_notice(question, history))
            yield session, ""
            return
        except Exception:
            log.exception("ask failed")
            session.messages[index]["content"] = render_error(GENERIC_ERROR, prefix, self._fallback_notice(question, history))
            yield session, ""
            return
        assert answer is not None  # stream always ends with the final answer
        # Shown whole, at once: an extractive answer is complete when it arrives, and a
        # streamed one is replaced by its final check's version. No pacing: a patient
        # (and everyone queued behind them) waits for nothing.
        session.messages[index]["content"] = render_answer(answer, prefix, disclaimer, self.documents)
        yield session, ""
        session.turns += [Turn("user", question[:MAX_MESSAGE_CHARS]), Turn("assistant", markers.strip(answer.answer))]
        del session.turns[:-MAX_HISTORY_TURNS]  # the pipeline reads no more; the session keeps no more
        session.exchanges[index] = Exchange(question, history, answer.to_dict())

    def save_feedback(self, session: Session, reason: str | None, comment: str) -> str:
        """Store the pending rating with its reason and comment; returns a line for the patient."""
        if self.feedback is None or session.rating is None:
            return ""
        index, rating = session.rating
        exchange = session.exchanges.get(index)
        if exchange is None:
            return "That message cannot be rated."
        reason = reason if reason in REASONS and rating == "down" else None
        comment = (comment or "").strip()
        try:
            if exchange.feedback_id is None:
                exchange.feedback_id = self.feedback.add(
                    Feedback(rating, exchange.question, exchange.history, exchange.answer, reason, comment)
                )
            else:
                self.feedback.update(exchange.feedback_id, rating, reason, comment)
        except AssistantError as exc:
            return f"Your feedback could not be saved: {exc}"
        session.rating = None
        return "Thank you. Your feedback was saved for the team to review."
