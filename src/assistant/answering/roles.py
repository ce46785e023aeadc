"""What a source sentence does, and what a question asks for: the facts answers are built from.

A sentence's *roles* (``help``, ``immediate``, ``self_care``, ``waiting``, ``story``,
``before``, ``after``) come from the cue lists in data/answers.yaml. So do two facts
about how it reads: it *refers back* ("This can result in…", "Instead, use…") and
leans on the sentence before it, or it *leads on* ("…can be attributed to several
factors.") and promises text that is not in it. A question is read for its phase
(before or after treatment, and how many days after) and for whether it asks for a
list of things. Names (a capitalised word inside a sentence: a place, a brand, a
person) are found by their spelling, with no list.

>>> roles = Roles.from_file()
>>> sorted(roles.of("If you notice pus, contact your practitioner immediately."))
['help', 'immediate']
>>> roles.refers_back("Instead, use a gentle cleanser."), roles.leads_on("It has several causes.")
(True, True)
>>> roles.read("day 5 and still peeling, what should I avoid").phase
'after'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from assistant.config import DATA_DIR, data_file

Phase = Literal["before", "after"]
ROLE_NAMES = ("help", "immediate", "self_care", "waiting", "story", "before", "after")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
# A capitalised word after a lower-case word or a comma: not a sentence's first word.
_NAME = re.compile(r"(?<=[a-z,;)] )([A-Z][a-z][A-Za-z'’-]*)")
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "a": 1, "a couple of": 2, "couple of": 2, "couple": 2, "few": 3}
# "these symptoms", "this procedure", "such changes": a thing named earlier.
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those|such)\s+([a-z][a-z-]+)", re.IGNORECASE)
_NOT_NOUNS = frozenset("as is are was were can could may might will would should must has have had does do "
                       "did includes include means highlights stimulates helps".split())
_DAYS = re.compile(r"\bday (\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b"
                   r"|\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|couple of|a|few)\s*"
                   r"(days?|d|weeks?|wks?|hours?|hrs?)\s*(ago|after|post|since|out|later|in)\b"
                   r"|\b(yesterday)\b|\b(today|this morning|earlier today|tonight|last night)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Reading:
    """What a question tells about the patient: the phase, days since treatment, a list wanted."""

    phase: Phase | None = None
    days: int | None = None
    wants_list: bool = False
    words: frozenset[str] = frozenset()

    def names(self, name: str) -> bool:
        return name.lower() in self.words

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "days": self.days, "wants_list": self.wants_list}


def _compile(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def days_since(question: str) -> int | None:
    """Days since treatment the question states ("day 5", "3 days ago", "yesterday"), if any.

    >>> days_since("had it done 2 weeks ago"), days_since("day three"), days_since("what is this")
    (14, 3, None)
    """
    match = _DAYS.search(question)
    if match is None:
        return None
    if match.group(1):
        token = match.group(1).lower()
        return int(token) if token.isdigit() else _NUMBERS[token]
    if match.group(5):
        return 1
    if match.group(6):
        return 0
    token, unit = match.group(2).lower(), match.group(3).lower()
    count = int(token) if token.isdigit() else _NUMBERS.get(token, 1)
    if unit.startswith("w"):
        return count * 7
    if unit.startswith("h"):
        return count // 24
    return count


class Roles:
    """The cue lists of data/answers.yaml, compiled; every lookup is cached per sentence."""

    def __init__(self, roles: Mapping[str, Sequence[str]], refers_back: Sequence[str], leads_on: Sequence[str],
                 question: Mapping[str, Sequence[str]]) -> None:
        missing = [name for name in ROLE_NAMES if name not in roles]
        if missing:
            raise KeyError(f"roles lacks {missing}")
        self._roles = {name: _compile(roles[name]) for name in ROLE_NAMES}
        self._refers_back = _compile(refers_back)
        self._leads_on = _compile(leads_on)
        self._question = {name: _compile(question[name]) for name in ("before", "after", "list")}
        self.of = lru_cache(maxsize=65536)(self._of)
        self.refers_back = lru_cache(maxsize=65536)(self._refers)
        self.leads_on = lru_cache(maxsize=65536)(self._leads)

    @classmethod
    def from_file(cls, path: Path | None = None) -> Roles:
        path = path or DATA_DIR / "answers.yaml"
        fix = "It needs roles (help, immediate, self_care, waiting, story, before, after), refers_back, leads_on " \
              "and question (before, after, list): lists of regular expressions."
        with data_file(path, "Answer rules", fix) as data:
            return cls(data["roles"], data["refers_back"], data["leads_on"], data["question"])

    def _of(self, sentence: str) -> frozenset[str]:
        return frozenset(name for name, patterns in self._roles.items() if any(p.search(sentence) for p in patterns))

    def _refers(self, sentence: str) -> bool:
        return any(p.search(sentence) for p in self._refers_back)

    def _leads(self, sentence: str) -> bool:
        return any(p.search(sentence.rstrip()) for p in self._leads_on)

    def leans_on(self, sentence: str, reading: Reading) -> bool:
        """The sentence leans on text before it: its opening refers back, or it names "these
        symptoms" (this, these, those, such + a noun) that the question does not name."""
        if self.refers_back(sentence):
            return True
        for match in _DEMONSTRATIVE.finditer(sentence):
            noun = match.group(1).lower()
            if noun not in _NOT_NOUNS and not any(w[:5] == noun[:5] for w in reading.words if len(w) > 2):
                return True
        return False

    def phase_of(self, sentence: str) -> Phase | None:
        """The one phase a sentence is about; None when it names both or neither."""
        roles = self.of(sentence)
        if ("before" in roles) == ("after" in roles):
            return None
        return "before" if "before" in roles else "after"

    def urgent_help(self, sentence: str) -> bool:
        """Sends the reader to someone now, and gives no self-care in the same breath."""
        roles = self.of(sentence)
        return ({"help", "immediate"} <= roles and not roles & {"self_care", "waiting"}
                and not self.refers_back(sentence))

    def read(self, question: str, history: Sequence[str] = ()) -> Reading:
        """The question's phase (the question first, then the earlier user turns), days and list wish."""
        days = days_since(question)
        phase: Phase | None = None
        for text in (question, *reversed(history)):
            before = any(p.search(text) for p in self._question["before"])
            after = any(p.search(text) for p in self._question["after"]) or days_since(text) is not None
            if before != after:
                phase = "before" if before else "after"
                break
        if days is None:
            days = next((d for d in (days_since(t) for t in reversed(history)) if d is not None), None)
        wants_list = any(p.search(question) for p in self._question["list"])
        words = frozenset(w.lower() for w in _WORD.findall(question))
        return Reading(phase, days, wants_list, words)


@lru_cache(maxsize=65536)  # the same source sentences come back question after question
def names_in(sentence: str) -> tuple[str, ...]:
    """Capitalised words inside a sentence (places, brands, people); acronyms are not names.

    >>> names_in("Pimples after treatment in Toronto are normal, says Dr Lee.")
    ('Toronto', 'Dr', 'Lee')
    """
    return tuple(_NAME.findall(sentence))


@lru_cache(maxsize=1)
def bundled_roles() -> Roles:
    return Roles.from_file()
