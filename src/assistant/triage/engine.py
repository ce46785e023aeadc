"""``Triager``: the layers of triage, run in order on a message and the user's earlier turns.

The rules and their context decide first. Every later layer can only raise the
tier, never lower it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from assistant.schema import Triage, Turn
from assistant.triage.context import RuleEngine
from assistant.triage.normalise import normalise
from assistant.triage.rules import Rules

__all__ = ["FAILSAFE", "Triager"]

log = logging.getLogger(__name__)

# Said when the code itself fails. Triage must not raise on user text, and
# "none" would be the unsafe answer, so a failure escalates.
FAILSAFE = Triage("urgent", ("this message could not be checked for warning signs",))


class Triager:
    """Applies a rules file to a message and the user's earlier turns.

    >>> Triager.from_file().assess("what should I do?", [Turn("user", "I have a fever")]).signals
    ('earlier: fever or chills',)
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.engine = RuleEngine(rules)

    @classmethod
    def from_file(cls, path: Path | None = None) -> Triager:
        """Load and validate a rules file (default: the bundled ``data/redflags.yaml``)."""
        return cls(Rules.from_file(path))

    def assess(self, message: str, history: Sequence[Turn] = ()) -> Triage:
        """Triage ``message`` in the context of ``history``; never raises on any text."""
        try:
            texts = [t.content for t in history
                     if getattr(t, "role", None) == "user" and isinstance(getattr(t, "content", None), str)]
            texts.append(message if isinstance(message, str) else str(message or ""))
            return self._assess(texts)
        except Exception:  # noqa: BLE001 - triage must answer; escalating is the safe failure
            log.exception("triage failed; escalating to %s", FAILSAFE.level)
            return FAILSAFE

    def _assess(self, texts: list[str]) -> Triage:
        return self.engine.assess([self.engine.doc(normalise(t, self.rules.emoji)) for t in texts])
