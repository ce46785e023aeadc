"""Red-flag triage: the rules are data (``data/redflags.yaml``); this is the pure function.

Triage runs before retrieval, on the message and on the user's earlier turns. It
returns ``emergency``, ``urgent`` or ``none`` and names, in plain words, every
warning sign it found. A mention does not count if it is negated ("no fever"),
part of a general question ("what are the signs of infection?") or over ("the
fever is gone"). Findings that are normal early on (redness, swelling, pimples)
count only when they last too long, get worse or are severe.

>>> triage("no fever, just pink on day 1").level
'none'
>>> triage("my lips are swelling and it's hard to swallow").level
'emergency'
>>> triage("day 4 and the redness is getting worse").signals
('redness worsening or lasting past 48 hours',)

Bias, by design: an ambiguous mention counts. A missed red flag is worse than
an unneeded "contact a clinician".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from assistant.schema import Triage, Turn
from assistant.safety.engine import FAILSAFE, Triager
from assistant.safety.normalise import normalise
from assistant.safety.rules import DEFAULT_RULES, Condition, Rule, Rules

__all__ = ["DEFAULT_RULES", "FAILSAFE", "Condition", "Rule", "Rules", "Triager", "bundled_triager", "normalise", "triage"]


@lru_cache(maxsize=1)
def _bundled() -> Triager:
    return Triager.from_file()


def bundled_triager() -> Triager:
    """The bundled rules, phrasing bank and lexicons, loaded once per process (a Triager is
    read-only once built, so every Assistant can share it)."""
    return _bundled()


def triage(message: str, history: Sequence[Turn] = ()) -> Triage:
    """Triage with the bundled rules (loaded once, then cached)."""
    return _bundled().assess(message, history)
