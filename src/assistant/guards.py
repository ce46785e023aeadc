"""Guards around the pipeline: how much conversation it reads, and what a store fault says.

Kept apart from ``assistant.pipeline`` so the UI and the CLI can use them
without importing torch or chromadb.

>>> len(cap_history([Turn("user", "hi")] * 50))
20
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.schema import Turn

# The longest message answered; triage reads all of a longer one (assistant.pipeline).
MAX_MESSAGE_CHARS = 20_000
# The conversation the pipeline reads: the latest turns, within these caps (each earlier
# user turn was triaged in full when it was sent).
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 40_000


def describe_fault(exc: BaseException, settings: Settings) -> str:
    """One line for an index that cannot be opened: what failed, and what to do."""
    where = f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}" \
        if getattr(settings, "chroma_host", None) else f"the index at {settings.index_dir}"
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, AssistantError):  # says what to do already
        return str(exc).strip()
    if re.search(r"read-?only|permission denied", detail, re.IGNORECASE) or isinstance(exc, PermissionError):
        return (f"Cannot open {where} ({detail}): Chroma writes to its database even to read it. "
                "Make the index folder writable for this user, then restart or reload the chat.")
    if re.search(r"disk is full|no space left", detail, re.IGNORECASE):
        return f"Cannot open {where} ({detail}). Free some disk space, then restart or reload the chat."
    return (f"Cannot read {where} ({detail}). Run `assistant ingest --rebuild` to rebuild it "
            "from the corpus; the chat picks it up by itself.")


def cap_history(history: Sequence[Turn]) -> list[Turn]:
    """The latest turns within MAX_HISTORY_TURNS and MAX_HISTORY_CHARS (each cut at MAX_MESSAGE_CHARS).

    >>> len(cap_history([Turn("user", "x" * 30_000)] * 3)[0].content)
    20000
    >>> len(cap_history([Turn("user", "hi")] * 50))
    20
    """
    kept: list[Turn] = []
    budget = MAX_HISTORY_CHARS
    for turn in reversed(list(history)[-MAX_HISTORY_TURNS:]):
        content = turn.content if isinstance(turn.content, str) else ""
        content = content[:min(MAX_MESSAGE_CHARS, budget)]
        if not content and budget <= 0:
            break
        kept.append(Turn(turn.role, content))
        budget -= len(content)
    return kept[::-1]
