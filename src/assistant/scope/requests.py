"""Requests to act that are refused whatever the sources say: a change to a medicine or a
dose, a prescription, a document, a diagnosis (from a photo or not), permission to skip care.

A kind is told by word classes that must meet in one sentence (data/scope.yaml),
with medicines recognised by the drug dictionary that drug-named-entity-recognition
ships (about 20,000 names and brands, offline), so "can I double my cetirizine"
is refused although no list here names cetirizine.

>>> requests = Requests.from_file()
>>> requests.match("can i double up on my cetirizine today?").name
'a change to a medicine'
>>> requests.match("can I use ice after my session?") is None
True
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.config import DATA_DIR, data_file

log = logging.getLogger(__name__)

# One home for drug-named-entity-recognition: it unpickles its dictionary on
# import (about 2 s), so it is imported once, on first use, by one thread.
_DRUGS_LOCK = threading.Lock()
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_TOKEN = re.compile(r"[a-z]+|[0-9]+")  # "800mg" is 800 and mg
MEDICINE = "medicine"


@dataclass(frozen=True)
class Request:
    """A kind of request the assistant refuses, with the reason it gives."""

    name: str
    text: str
    all_of: tuple[tuple[tuple[str, ...], ...], ...] = ()  # word classes; a class entry is a phrase (words)
    patterns: tuple[re.Pattern[str], ...] = ()


class Requests:
    def __init__(self, kinds: Sequence[Request], medicine_words: Sequence[str],
                 dose_words: Sequence[str] = ()) -> None:
        self.kinds = tuple(kinds)
        self.medicine_words = frozenset(medicine_words)
        self.dose_words = tuple(tuple(_tokens(w)) for w in dose_words)

    @classmethod
    def from_file(cls, path: Path | None = None) -> Requests:
        path = path or DATA_DIR / "scope.yaml"
        fix = "Each entry of requests needs a name, a text, and all_of (lists of words) or patterns (regular expressions)."
        with data_file(path, "Scope rules", fix) as data:
            return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Requests:
        """From the parsed scope rules (``requests``, ``medicine_words``, ``dose_words``)."""
        return cls([_request(entry) for entry in data["requests"]],
                   [str(w).lower() for w in data.get("medicine_words", [])],
                   [str(w) for w in data.get("dose_words", [])])

    def match(self, message: str, earlier: str = "") -> Request | None:
        """The first kind of refused request that ``message`` makes, if any; ``earlier`` (the
        exchange before it) may name the medicine ("I'm on doxycycline" / "how many mg?")."""
        asks_amount = any(_has(_tokens(message), phrase) for phrase in self.dose_words)
        earlier_medicine = asks_amount and bool(earlier) and self._names_medicine(earlier, _tokens(earlier))
        sentences = [s for s in _SENTENCE.split(message) if s.strip()]
        # A sentence is read with the one before it: "I'm on doxycycline ... Can I stop it early?"
        windows = [" ".join(sentences[max(0, i - 1):i + 1]) for i in range(len(sentences))]
        tokenised = [_tokens(w) for w in windows]
        for kind in self.kinds:
            if any(p.search(s) for p in kind.patterns for s in sentences):
                return kind
            if kind.all_of and any(self._meets(kind, w, t, earlier_medicine) for w, t in zip(windows, tokenised)):
                return kind
        return None

    def _meets(self, kind: Request, sentence: str, tokens: list[str], earlier_medicine: bool) -> bool:
        for word_class in kind.all_of:
            if word_class == ((MEDICINE,),):
                if not (earlier_medicine or self._names_medicine(sentence, tokens)):
                    return False
            elif not any(_has(tokens, phrase) for phrase in word_class):
                return False
        return True


    def _names_medicine(self, text: str, tokens: list[str]) -> bool:
        return bool(self.medicine_words & set(tokens)) or names_a_drug(text)


def _request(entry: dict) -> Request:
    classes = []
    for word_class in entry.get("all_of", []):
        if word_class == MEDICINE:
            classes.append(((MEDICINE,),))
        else:
            classes.append(tuple(tuple(_tokens(str(p))) for p in word_class))
    patterns = tuple(re.compile(p, re.IGNORECASE) for p in entry.get("patterns", []))
    if not classes and not patterns:
        raise ValueError(f"request {entry.get('name')!r} has neither all_of nor patterns")
    return Request(str(entry["name"]), str(entry["text"]).strip(), tuple(classes), patterns)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("'", "").replace("\u2019", ""))


def _has(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` occurs in ``tokens`` (each word as written or with a plural -s)."""
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if all(t == w or t == f"{w}s" or t == f"{w}es" for t, w in zip(tokens[i:i + n], phrase)):
            return True
    return False


def names_a_drug(text: str) -> bool:
    """Whether ``text`` names a medicine in the bundled drug dictionary. Its drug classes
    ("Sunscreening Agents" for "sunscreen") are not medicines a patient takes by name.
    Without the dictionary (a broken install) only the medicine words are recognised."""
    find = _find_drugs()
    if find is None:
        return False
    found = find(_TOKEN.findall(text.lower()), is_ignore_case=True)
    return any(not str(match.get("name", "")).endswith(" Agents") for match, *_ in found)


@lru_cache(maxsize=1)
def _find_drugs():  # noqa: ANN202 - the library ships no types
    with _DRUGS_LOCK:
        try:
            from drug_named_entity_recognition import find_drugs
        except Exception as exc:  # noqa: BLE001 - refusals by medicine word still work
            log.warning("The drug dictionary could not be loaded (%s); requests about a medicine are told by "
                        "medicine words only. Reinstall with `make install`.", exc)
            return None
        return find_drugs


def load_in_background() -> threading.Thread:
    """Start loading the drug dictionary now, so the first question does not wait for it."""
    thread = threading.Thread(target=_find_drugs, name="drug-dictionary", daemon=True)
    thread.start()
    return thread
