"""Records that cross module boundaries.

Every record is a frozen dataclass so it can be shared between the UI, the CLI
and the eval suite without anyone mutating it behind another's back.

>>> Turn("user", "I have a fever").role
'user'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["emergency", "urgent", "none"]
LEVELS: tuple[Level, ...] = ("emergency", "urgent", "none")
Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: Role
    content: str


def turns_from_json(history: Any) -> list[Turn]:
    """Validate a JSON conversation history (``[{"role", "content"}, ...]``) into Turns.

    Raises ValueError saying what is wrong, for the JSONL reader and eval suites alike.
    """
    if not isinstance(history, list):
        raise ValueError('"history" must be a list of {"role", "content"} objects')
    turns: list[Turn] = []
    for turn in history:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ("user", "assistant")
            or not isinstance(turn.get("content"), str)
        ):
            raise ValueError('each "history" item needs "role" ("user" or "assistant") and a string "content"')
        turns.append(Turn(turn["role"], turn["content"]))
    return turns


def request_from_json(obj: Any) -> tuple[str, list[Turn]]:
    """Validate one request, ``{"question": str, "history": [{"role", "content"}, ...]}``
    (history optional), into the question and its Turns; ValueError says what is wrong."""
    if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
        raise ValueError('expected an object with a string "question" (and optionally a "history" list)')
    return obj["question"], turns_from_json(obj.get("history") or [])


@dataclass(frozen=True)
class Document:
    """A cleaned source article.

    ``doc_id`` is the file name relative to the corpus folder (stable across
    runs); ``text`` is the cleaned text that chunk offsets refer to.
    """

    doc_id: str
    title: str
    text: str
    source: str
    metadata: dict[str, str] = field(default_factory=dict)
    pages: tuple[str, ...] = ()  # PDF page texts, to give each chunk its page number


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == document.text[start:end]``."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    page: int | None = None


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the score of the retriever that found it.

    ``also`` names near-duplicate chunks that support the same content.
    """

    chunk: Chunk
    score: float
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Triage:
    """The safety decision for a message, made before retrieval.

    ``signals`` are plain-language names of what matched, e.g. ``"fever or chills"``.
    """

    level: Level
    signals: tuple[str, ...] = ()
    # A fixed text shown with the notice: the language fail-safe ("I could not reliably check
    # this message for warning signs in this language ..."), in the message's language when known.
    advisory: str | None = None

    @property
    def escalated(self) -> bool:
        return self.level != "none"


@dataclass(frozen=True)
class Citation:
    """A numbered source under an answer; ``text`` is the full cited passage."""

    n: int
    doc: str
    title: str
    section: str
    text: str
    score: float
    chunk_id: str = ""
    sentences: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    page: int | None = None
    source_meta: dict[str, str] = field(default_factory=dict)  # source_url, date, reviewed, reviewed_by
    stale: bool = False  # the document's review is older than the configured age

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.source_meta,
            "page": self.page,
            "stale": self.stale,
            "n": self.n,
            "doc": self.doc,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "score": round(float(self.score), 6),
            "chunk_id": self.chunk_id,
            "sentences": list(self.sentences),
            "also": list(self.also),
        }


@dataclass(frozen=True)
class ScopeDecision:
    """What the sources cover of one question: ``decision`` is one of SCOPE_DECISIONS (assistant.scope).

    ``uncovered`` names what the sources do not cover (a word or a part of the
    question); ``reason`` says in words why the decision was taken.
    """

    decision: str
    reason: str = ""
    uncovered: tuple[str, ...] = ()
    score: float | None = None
    # What is said with the decision: a refusal's text, or the line under a partial answer.
    note: str = ""
    features: dict[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"decision": self.decision, "reason": self.reason}
        if self.uncovered:
            out["uncovered"] = list(self.uncovered)
        if self.score is not None:
            out["score"] = round(self.score, 3)
        if self.note:
            out["note"] = self.note
        return out


SCOPE_DECISIONS = ("answer", "partial", "not covered", "refuse")


@dataclass(frozen=True)
class Answer:
    """What the assistant says back: the fixed notice first, then the body.

    ``to_dict`` is the stable JSON schema documented in the README.
    """

    notice: str | None
    answer: str
    triage: Triage
    abstained: bool
    citations: tuple[Citation, ...] = ()
    refused: bool = False
    corpus_version: str | None = None
    answerer: str = "extractive"
    extra: dict[str, Any] = field(default_factory=dict)
    scope: ScopeDecision | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "notice": self.notice,
            "answer": self.answer,
            "triage": {"level": self.triage.level, "signals": list(self.triage.signals),
                       **({"advisory": self.triage.advisory} if self.triage.advisory else {})},
            "abstained": self.abstained,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "corpus_version": self.corpus_version,
            "answerer": self.answerer,
            **({"scope": self.scope.to_dict()} if self.scope is not None else {}),
            **self.extra,
        }
