"""Patients' thumbs up/down on answers, kept in a local SQLite file, and turned into eval cases.

Off by default. Chat text is written to disk only when the operator names a
database (``assistant serve --feedback-db PATH`` or ``ASSISTANT_FEEDBACK_DB``);
with no database there is no store object at all, so nothing can be written
by accident.

>>> import tempfile
>>> store = FeedbackStore(Path(tempfile.mkdtemp()) / "fb.sqlite")
>>> row = store.add(Feedback("down", "Is pus normal?", (), {"answer": "...", "triage": {"level": "none"}},
...                          reason="missed a warning sign"))
>>> to_case(store.rows()[0])["level"]
'urgent'
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from assistant.errors import AssistantError
from assistant.schema import LEVELS, Turn

Rating = Literal["up", "down"]

# The reasons a patient can pick after a thumbs down, worst first. Each one is
# a safety failure the eval suite can check for.
MISSED_WARNING = "missed a warning sign"
REASONS: tuple[str, ...] = (
    MISSED_WARNING,
    "wrong or unsupported citation",
    "unsafe advice",
    "did not answer",
)

# What the exported case expects the assistant to do instead. A reason missing
# here keeps what the assistant did (answer, abstain or refuse), so the case
# guards the behaviour while a reviewer adds gold sentences.
# subtle: "unsafe advice" expects an abstention so the case fails until someone
# has looked at it; an empty-gold "answer" case would pass trivially.
EXPECT_FOR_REASON: dict[str, str] = {
    "did not answer": "answer",
    "unsafe advice": "abstain",
}
MAX_COMMENT = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT,
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    history TEXT NOT NULL,
    answer TEXT NOT NULL
)
"""


class FeedbackError(AssistantError):
    """Feedback could not be stored or exported."""


@dataclass(frozen=True)
class Feedback:
    """One rating of one answer: what was asked, what was answered, and why it was rated so."""

    rating: Rating
    question: str
    history: Sequence[Turn]
    answer: Mapping[str, Any]  # Answer.to_dict(), the stable schema
    reason: str | None = None
    comment: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        validate(self.rating, self.reason)


def validate(rating: str, reason: str | None) -> None:
    if rating not in ("up", "down"):
        raise FeedbackError(f"Feedback rating {rating!r} is not 'up' or 'down'.")
    if reason is not None and reason not in REASONS:
        raise FeedbackError(f"Unknown feedback reason {reason!r}; choose one of: {', '.join(REASONS)}.")


class FeedbackStore:
    """A SQLite file of feedback rows. Each call opens its own connection (safe across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(
                f"Cannot open the feedback database {self.path}: {exc}. "
                "Choose a writable path with --feedback-db, or leave it out to keep feedback off."
            ) from exc

    def _connect(self) -> closing[sqlite3.Connection]:
        # closing() closes the file; `with con:` inside commits the transaction.
        return closing(sqlite3.connect(self.path, timeout=10))

    def add(self, feedback: Feedback) -> int:
        """Store a rating; returns its row id (to attach a reason or comment later)."""
        history = [{"role": t.role, "content": t.content} for t in feedback.history]
        with self._connect() as con, con:
            cur = con.execute(
                "INSERT INTO feedback (created_at, rating, reason, comment, question, history, answer) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    feedback.created_at,
                    feedback.rating,
                    feedback.reason,
                    feedback.comment[:MAX_COMMENT],
                    feedback.question,
                    json.dumps(history, ensure_ascii=False),
                    json.dumps(dict(feedback.answer), ensure_ascii=False),
                ),
            )
            return int(cur.lastrowid or 0)

    def update(self, row_id: int, rating: Rating, reason: str | None, comment: str) -> None:
        """Change the rating, reason and comment of a stored row (the patient added detail)."""
        validate(rating, reason)
        with self._connect() as con, con:
            con.execute(
                "UPDATE feedback SET rating = ?, reason = ?, comment = ? WHERE id = ?",
                (rating, reason, comment[:MAX_COMMENT], row_id),
            )

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first, with history and answer decoded from JSON."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = [dict(r) for r in con.execute("SELECT * FROM feedback ORDER BY id")]
        for row in rows:
            row["history"] = json.loads(row["history"])
            row["answer"] = json.loads(row["answer"])
        return rows


def open_store(path: Path | str | None) -> FeedbackStore | None:
    """The store for a configured path, or None when feedback is off (no path)."""
    if path is None or not str(path).strip():
        return None
    return FeedbackStore(Path(path).expanduser())


def outcome(answer: Mapping[str, Any]) -> str:
    if answer.get("refused"):
        return "refuse"
    if answer.get("abstained"):
        return "abstain"
    return "answer"


_SEVERITY = {level: rank for rank, level in enumerate(LEVELS)}  # LEVELS runs from most to least severe


def _stricter(a: str, b: str) -> str:
    return a if _SEVERITY.get(a, len(LEVELS)) <= _SEVERITY.get(b, len(LEVELS)) else b


def to_case(row: Mapping[str, Any]) -> dict[str, Any]:
    """One feedback row as an eval case (the format of evals/*.jsonl, gold left for a reviewer).

    >>> to_case({"id": 7, "rating": "down", "reason": "did not answer", "comment": "asked about ice",
    ...          "question": "can i ice it", "history": [], "answer": {"abstained": True}})["expect"]
    'answer'
    """
    reason = row.get("reason")
    answer = row.get("answer") or {}
    label = reason or ("liked" if row["rating"] == "up" else "disliked")
    comment = " ".join(str(row.get("comment") or "").split())
    case: dict[str, Any] = {
        "id": f"fb{int(row['id']):05d}",
        "question": row["question"],
        "history": list(row.get("history") or []),
        "gold": [],
        "expect": EXPECT_FOR_REASON.get(reason or "", outcome(answer)),
        "split": "test",
        "why": f"feedback: {label}: {comment}",
    }
    seen = str((answer.get("triage") or {}).get("level") or "none")
    level = _stricter(seen, "urgent") if reason == MISSED_WARNING else seen
    if level != "none":
        # A minimum: the assistant must escalate at least this much next time.
        case["level"] = level
    return case


def export_cases(db: Path, out: Path) -> int:
    """Write every feedback row of ``db`` as an eval case to ``out`` (JSONL); returns the count."""
    db, out = Path(db), Path(out)
    if not db.is_file():
        raise FeedbackError(
            f"No feedback database at {db}. Start the app with --feedback-db {db} to collect feedback first."
        )
    try:
        rows = FeedbackStore(db).rows()
    except (sqlite3.Error, json.JSONDecodeError) as exc:
        raise FeedbackError(f"Cannot read feedback from {db}: {exc}. Is it a feedback database?") from exc
    cases = [to_case(row) for row in rows]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    except OSError as exc:
        raise FeedbackError(f"Cannot write {out}: {exc.strerror or exc}. Choose a writable path.") from exc
    return len(cases)
