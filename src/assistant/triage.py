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

import logging
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import DataFileError
from assistant.schema import Level, Triage, Turn

__all__ = ["Condition", "Rule", "Rules", "Triager", "normalise", "triage"]

log = logging.getLogger(__name__)

DEFAULT_RULES = Path(__file__).parent / "data" / "redflags.yaml"
TIERS: tuple[Level, ...] = ("emergency", "urgent")
# Said when the code itself fails. Triage must not raise on user text, and
# "none" would be the unsafe answer, so a failure escalates.
FAILSAFE = Triage("urgent", ("this message could not be checked for warning signs",))

_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"[!?;\n]+|\.(?!\d)")
_COMMA = re.compile(r",")
_LIST_JOIN = re.compile(r",|\b(?:and|y|et)\b")
_MACRO = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: 10x faster
_RELAPSE = "<relapse>"  # an event: signs cleared earlier are back
# How far (in characters) the code looks around a mention for cues. A run-on
# "sentence" of 20,000 characters is read locally, which keeps the work linear.
_REACH = 240


# ----------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Condition:
    """When a finding that is normal early on escalates; any one condition is enough."""

    after_hours: float | None = None
    worsening: bool = False
    severe: bool = False
    also_if: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    tier: Level
    signal: str
    pattern: re.Pattern[str]
    topics: tuple[str, ...] = ()
    when: Condition | None = None
    earlier_topics: tuple[str, ...] = ()

    def names(self, words: str, earlier: bool = False) -> bool:
        """Does ``words`` contain a word starting with one of the rule's topic stems?"""
        stems = self.earlier_topics if earlier else self.topics
        return bool(stems) and _stems(stems).search(words) is not None


@dataclass(frozen=True)
class Combination:
    id: str
    tier: Level
    signal: str
    all_of: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Rules:
    """The validated contents of a red-flag rules file.

    ``lang`` maps a name such as ``"negation.cues"`` to its compiled pattern.
    Build one with :meth:`from_file`; every problem raises ``DataFileError``.
    """

    rules: tuple[Rule, ...]
    combinations: tuple[Combination, ...]
    lang: Mapping[str, re.Pattern[str]]
    windows: Mapping[str, int]
    emoji: Mapping[str, str]
    durations: _Durations
    history_prefix: str
    settled_signal: str
    settled_tier: Level
    path: Path

    @classmethod
    def from_file(cls, path: Path | None = None) -> Rules:
        path = Path(path) if path is not None else DEFAULT_RULES
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        except OSError as exc:
            raise DataFileError(
                f"Red-flag rules file {path} cannot be read ({exc.strerror or exc}). "
                "Check the path, or omit it to use the bundled rules."
            ) from exc
        except yaml.YAMLError as exc:
            raise DataFileError(f"Red-flag rules file {path} is not valid YAML: {exc}. Fix the syntax.") from exc
        try:
            return _Loader(path).load(data)
        except DataFileError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a shape no check above foresaw
            raise DataFileError(
                f"Red-flag rules file {path} is malformed ({exc!r}). Compare its layout with the bundled "
                f"{DEFAULT_RULES.name} and fix the entry."
            ) from exc


_LANGUAGE_KEYS = {
    "clauses": ("contrast",),
    "negation": ("cues", "resolving_cues", "breakers", "keep_if", "list_end", "answered_no", "anymore"),
    "hypothetical": ("leading", "trailing", "report_markers", "report_frames", "general_question"),
    "resolution": ("phrases", "blocked_by", "partial", "general", "relapse"),
    "modifiers": ("worsening", "improving", "severe"),
}
_WINDOW_KEYS = ("negation_window_words", "hypothetical_window_words", "modifier_window_words")


class _Loader:
    """Turns parsed YAML into Rules; every error names the file, the place and the fix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.macros: dict[str, str] = {}

    def fail(self, where: str, problem: str) -> DataFileError:
        return DataFileError(f"Red-flag rules file {self.path}: {where}: {problem}")

    def mapping(self, value: Any, where: str, keys: Sequence[str] = (), allowed: Sequence[str] = ()) -> dict[str, Any]:
        """``value`` as a dict that has every key in ``keys`` and, if ``allowed`` is given, no other."""
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping with keys {', '.join(keys) or '...'}, "
                                   f"got {type(value).__name__}.")
        missing = [k for k in keys if k not in value]
        if missing:
            raise self.fail(where, f"missing field(s) {', '.join(missing)}. Add them (see the other entries).")
        unknown = sorted(map(str, set(value) - set(allowed))) if allowed else []
        if unknown:
            raise self.fail(where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}. "
                                   "Check the spelling.")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be a non-empty text.")
        return value.strip()

    def tier(self, value: Any, where: str) -> Level:
        if value not in TIERS:
            raise self.fail(where, f"unknown tier {value!r}. Use one of: {', '.join(TIERS)} ('none' needs no rule).")
        return value  # type: ignore[no-any-return]

    def pattern(self, value: Any, where: str) -> re.Pattern[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(where, "must be a non-empty list of regular expressions.")
        parts = []
        for i, raw in enumerate(items):
            if not isinstance(raw, str) or not raw:
                raise self.fail(f"{where}[{i}]", "must be a non-empty regular expression in quotes.")
            unknown = [m for m in _MACRO.findall(raw) if m not in self.macros]
            if unknown:
                raise self.fail(f"{where}[{i}]", f"unknown macro {{{unknown[0]}}}; defined: {', '.join(self.macros)}.")
            expanded = _MACRO.sub(lambda m: self.macros[m.group(1)], raw)
            bare = re.sub(r"\\.", "", expanded)
            # subtle: text is lower-cased and accent-free before matching, so an
            # upper-case or accented pattern would silently never match.
            # Other scripts (Chinese, Arabic, Cyrillic) are fine as long as folding leaves them as they are.
            folded = _COMBINING.sub("", unicodedata.normalize("NFKD", bare)).casefold()
            if folded != bare:
                raise self.fail(f"{where}[{i}]", f"pattern {raw!r} has upper-case or accented letters; text is matched "
                                                 "lower-case without accents, so write e.g. 'fievre', not 'Fièvre'.")
            parts.append(expanded)
        try:
            return re.compile("|".join(f"(?:{p})" for p in parts))
        except re.error:  # compile one by one only to say which pattern is wrong
            for i, (raw, expanded) in enumerate(zip(items, parts)):
                try:
                    re.compile(expanded)
                except re.error as exc:
                    raise self.fail(f"{where}[{i}]", f"bad regular expression {raw!r}: {exc}. Fix it.") from exc
            raise

    def load(self, data: Any) -> Rules:
        required = ("version", "rules", "language", "durations", "resolved_emergency")
        optional = ("combinations", "macros", "emoji", "history_prefix")
        top = self.mapping(data, "top level", required, (*required, *optional))
        if top["version"] != 1:
            raise self.fail("version", f"unsupported version {top['version']!r}; this code reads version 1.")
        for name, body in self.mapping(top.get("macros", {}), "macros").items():
            self.macros[str(name)] = self.text(body, f"macros.{name}")
        emoji = {str(k): str(v) for k, v in self.mapping(top.get("emoji", {}), "emoji").items()}
        sections = ("settings", *_LANGUAGE_KEYS)
        lang_data = self.mapping(top["language"], "language", sections, sections)
        settings = self.mapping(lang_data["settings"], "language.settings", _WINDOW_KEYS, _WINDOW_KEYS)
        windows = {}
        for key in _WINDOW_KEYS:
            if not isinstance(settings[key], int) or settings[key] < 1:
                raise self.fail(f"language.settings.{key}", "must be a whole number of words, 1 or more.")
            windows[key] = settings[key]
        lang = {}
        for section, keys in _LANGUAGE_KEYS.items():
            body = self.mapping(lang_data[section], f"language.{section}", keys, keys)
            for key in keys:
                lang[f"{section}.{key}"] = self.pattern(body[key], f"language.{section}.{key}")
        rules = self.rules(top["rules"])
        ids = {r.id for r in rules}
        combos = tuple(self.combination(c, f"combinations[{i}]", ids)
                       for i, c in enumerate(top.get("combinations") or []))
        settled = self.mapping(top["resolved_emergency"], "resolved_emergency", ("tier", "signal"), ("tier", "signal"))
        return Rules(
            rules=rules,
            combinations=combos,
            lang=lang,
            windows=windows,
            emoji=emoji,
            durations=self.durations(top["durations"]),
            history_prefix=str(top.get("history_prefix", "earlier: ")),
            settled_signal=self.text(settled["signal"], "resolved_emergency.signal"),
            settled_tier=self.tier(settled["tier"], "resolved_emergency.tier"),
            path=self.path,
        )

    def rules(self, value: Any) -> tuple[Rule, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("rules", "must be a non-empty list of rules.")
        out: list[Rule] = []
        for i, item in enumerate(value):
            where = f"rules[{i}]"
            body = self.mapping(item, where, ("id", "tier", "signal", "patterns"),
                                ("id", "tier", "signal", "patterns", "topics", "earlier_topics", "when", "source"))
            rid = body["id"]
            if not isinstance(rid, str) or not _ID.match(rid) or any(r.id == rid for r in out):
                raise self.fail(f"{where}.id", f"{rid!r} must be a unique lower-case identifier such as 'fever'.")
            where = f"rule {rid!r} ({where})"
            topics = {key: body.get(key, []) for key in ("topics", "earlier_topics")}
            for key, stems in topics.items():
                if not isinstance(stems, list) or not all(isinstance(t, str) and t for t in stems):
                    raise self.fail(f"{where}.{key}", "must be a list of word stems such as [fever, chill].")
            out.append(Rule(
                id=rid,
                tier=self.tier(body["tier"], f"{where}.tier"),
                signal=self.text(body["signal"], f"{where}.signal"),
                pattern=self.pattern(body["patterns"], f"{where}.patterns"),
                topics=tuple(t.lower() for t in topics["topics"]),
                when=self.condition(body["when"], f"{where}.when") if "when" in body else None,
                earlier_topics=tuple(t.lower() for t in topics["earlier_topics"]),
            ))
        return tuple(out)

    def condition(self, value: Any, where: str) -> Condition:
        body = self.mapping(value, where, (), ("after_hours", "worsening", "severe", "also_if"))
        hours = body.get("after_hours")
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0):
            raise self.fail(f"{where}.after_hours", f"{hours!r} must be a positive number of hours.")
        for key in ("worsening", "severe"):
            if not isinstance(body.get(key, False), bool):
                raise self.fail(f"{where}.{key}", "must be true or false.")
        also = self.pattern(body["also_if"], f"{where}.also_if") if "also_if" in body else None
        cond = Condition(float(hours) if hours is not None else None, body.get("worsening", False),
                         body.get("severe", False), also)
        if cond == Condition():
            raise self.fail(where, "sets no condition, so the rule could never fire. "
                                   "Add after_hours, worsening, severe or also_if, or remove 'when'.")
        return cond

    def combination(self, value: Any, where: str, ids: set[str]) -> Combination:
        keys = ("id", "tier", "signal", "all_of")
        body = self.mapping(value, where, keys, (*keys, "source"))
        groups = body["all_of"]
        if not isinstance(groups, list) or len(groups) < 2 or not all(isinstance(g, list) and g for g in groups):
            raise self.fail(f"{where}.all_of", "must be a list of two or more non-empty lists of rule ids.")
        unknown = sorted({str(r) for g in groups for r in g} - ids)
        if unknown:
            raise self.fail(f"{where}.all_of", f"unknown rule id(s) {', '.join(unknown)}; use ids from 'rules'.")
        return Combination(str(body["id"]), self.tier(body["tier"], f"{where}.tier"),
                           self.text(body["signal"], f"{where}.signal"), tuple(frozenset(map(str, g)) for g in groups))

    def durations(self, value: Any) -> _Durations:
        keys = ("numbers", "ordinals", "units", "day_words", "named")
        body = self.mapping(value, "durations", keys, keys)
        tables = {}
        for key in ("numbers", "ordinals", "units"):
            table = self.mapping(body[key], f"durations.{key}")
            if not table or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                    for v in table.values()):
                raise self.fail(f"durations.{key}", "must map words to positive numbers.")
            tables[key] = {str(k).lower(): float(v) for k, v in table.items()}
        named = []
        for i, item in enumerate(body["named"] or []):
            where = f"durations.named[{i}]"
            entry = self.mapping(item, where, ("pattern", "hours"), ("pattern", "hours"))
            hours = entry["hours"]
            if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
                raise self.fail(f"{where}.hours", f"{hours!r} must be a positive number of hours.")
            named.append((self.pattern(entry["pattern"], f"{where}.pattern"), float(hours)))
        day_words = body["day_words"]
        if not isinstance(day_words, list) or not day_words or not all(isinstance(w, str) and w for w in day_words):
            raise self.fail("durations.day_words", "must be a list of words such as [day, dia, jour].")
        return _Durations.build(tables["numbers"], tables["ordinals"], tables["units"], day_words, named)


@dataclass(frozen=True)
class _Durations:
    """Reads "3 days", "day 4", "48 hrs", "since Monday" as hours."""

    numbers: Mapping[str, float]
    units: Mapping[str, float]
    amount: re.Pattern[str]
    day_n: re.Pattern[str]
    nth_day: re.Pattern[str]
    named: tuple[tuple[re.Pattern[str], float], ...]

    @classmethod
    def build(cls, numbers: dict[str, float], ordinals: dict[str, float], units: dict[str, float],
              day_words: list[str], named: list[tuple[re.Pattern[str], float]]) -> _Durations:
        def alt(words: Any) -> str:  # longest first, so "couple of" wins over "couple"
            return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

        num = rf"\d+(?:[.,]\d+)?|{alt(numbers)}"
        return cls(
            numbers={**numbers, **ordinals},
            units=units,
            # subtle: digits may touch the unit ("48h"); words may not ("ah" is not "a h").
            amount=re.compile(rf"\b(?:(\d+(?:[.,]\d+)?)\s*-?\s*|({alt(numbers)})[\s-]+)({alt(units)})\b"),
            day_n=re.compile(rf"\b(?:{alt(day_words)})\s*({num})\b"),
            nth_day=re.compile(rf"\b(\d+(?=st|nd|rd|th)|{alt(ordinals)})(?:st|nd|rd|th)?\s+day\b"),
            named=tuple(named),
        )

    def value(self, token: str) -> float:
        try:
            return float(token.replace(",", "."))
        except ValueError:
            return self.numbers.get(token, 0.0)

    def hours(self, text: str) -> float | None:
        found = [self.value(m.group(1) or m.group(2)) * self.units[m.group(3)]
                 for m in self.amount.finditer(text)]
        found += [self.value(m.group(1)) * 24 for m in self.day_n.finditer(text)]
        found += [self.value(m.group(1)) * 24 for m in self.nth_day.finditer(text)]
        found += [hours for pattern, hours in self.named if pattern.search(text)]
        return max(found) if found else None


# ----------------------------------------------------------------------------- text

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})
_ELISION = re.compile(r"\b(qu|[ldjnmstc])'(?=[a-z])")
# Combining marks left by NFKD (e + U+0301 for "é"): dropping them removes the accents.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_JUNK = re.compile(r"[^\w\s.,;:!?/%°()+\-=&#\"'<>]")


def normalise(text: str, emoji: Mapping[str, str] | None = None) -> str:
    """Lower-case, accent-free, contraction-joined text that the rule patterns are written for.

    >>> normalise("J’ai de la FIÈVRE 🤒, can't sleep!!!", {"🤒": " fever "})
    'j ai de la fievre fever , cant sleep!'
    """
    for symbol, words in (emoji or {}).items():
        text = text.replace(symbol, words)
    text = re.sub(r"<[^>]{0,200}>", " ", text)  # HTML tags; their text content is kept
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = _COMBINING.sub("", text).casefold().translate(_LIGATURES)
    text = _ELISION.sub(r"\1 ", text)  # French "j'ai" -> "j ai"
    text = text.replace("'", "")  # English "can't" -> "cant"
    text = _JUNK.sub(" ", text)  # emoji, symbols, control characters
    text = re.sub(r"([a-z])\1{2,}", r"\1", text)  # "sooo" -> "so"
    text = re.sub(r"([!?.])\1+", r"\1", text)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r" *\n[\s]*", "\n", text).strip()


class _Doc:
    """A normalised turn with its sentence, clause and phrase spans."""

    def __init__(self, text: str, contrast: re.Pattern[str]) -> None:
        self.text = text
        sentence = [(m.start(), m.end()) for m in _SENTENCE_END.finditer(text)]
        clause = sorted(sentence + [(m.start(), m.end()) for m in contrast.finditer(text)])
        phrase = sorted(clause + [(m.start(), m.end()) for m in _COMMA.finditer(text)])
        self._cuts = {}
        for kind, cuts in (("sentence", sentence), ("clause", clause), ("phrase", phrase)):
            furthest, reach = [], 0
            for _, end in cuts:  # subtle: cuts can overlap ("but,"), so keep the furthest end so far
                reach = max(reach, end)
                furthest.append(reach)
            self._cuts[kind] = ([a for a, _ in cuts], furthest)

    def span(self, kind: str, pos: int) -> tuple[int, int]:
        """The sentence/clause/phrase around ``pos``, cut to ``_REACH`` characters each side."""
        starts, furthest = self._cuts[kind]
        i = bisect_right(starts, pos)
        lo = furthest[i - 1] if i else 0
        hi = starts[i] if i < len(starts) else len(self.text)
        return max(lo, pos - _REACH), min(hi, pos + _REACH)


@lru_cache(maxsize=256)
def _stems(stems: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:%s)" % "|".join(re.escape(s) for s in stems))


def _last(pattern: re.Pattern[str], text: str, lo: int, hi: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, lo, hi):  # noqa: B007 - we want the last one
        pass
    return found


# ----------------------------------------------------------------------------- triage


class Triager:
    """Applies a rules file to a message and the user's earlier turns.

    >>> Triager.from_file().assess("what should I do?", [Turn("user", "I have a fever")]).signals
    ('earlier: fever or chills',)
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._by_id = {r.id: r for r in rules.rules}
        self._lang = rules.lang

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
        docs = [_Doc(normalise(t, self.rules.emoji), self._lang["clauses.contrast"]) for t in texts]
        turn_hours = [self.rules.durations.hours(d.text) for d in docs]
        known = [h for h in turn_hours if h is not None]
        conv_hours = max(known) if known else None
        active: dict[str, int] = {}  # rule id -> index of the turn that last mentioned it
        cleared: dict[str, int] = {}  # rule id -> turn it was mentioned in, for "it's back"
        settled_at: int | None = None
        for turn, doc in enumerate(docs):
            for _pos, _order, what in sorted(self._events(doc, turn_hours[turn], conv_hours), key=lambda e: e[:2]):
                if what == _RELAPSE:  # "it's back": the cleared signs are present again, now
                    active.update(dict.fromkeys(cleared, turn))
                    cleared.clear()
                elif isinstance(what, str):
                    active[what] = turn
                else:
                    now, earlier_only = what
                    over = [r for r in active if now is None or r in now or (r in earlier_only and active[r] < turn)]
                    for rid in over:
                        if self._by_id[rid].tier == "emergency":
                            settled_at = turn
                        cleared[rid] = active.pop(rid)
        if settled_at is not None and any(self._by_id[r].tier == "emergency" for r in active):
            settled_at = None  # it came back: the emergency itself is reported
        return self._verdict(active, settled_at, last=len(docs) - 1)

    def _verdict(self, active: dict[str, int], settled_at: int | None, last: int) -> Triage:
        rank = {tier: i for i, tier in enumerate(TIERS)}
        found: list[tuple[int, bool, int, str]] = []
        for order, rule in enumerate(self.rules.rules):
            if rule.id in active:
                found.append((rank[rule.tier], active[rule.id] < last, order, rule.signal))
        for order, combo in enumerate(self.rules.combinations, start=len(self.rules.rules)):
            hits = [[active[r] for r in group if r in active] for group in combo.all_of]
            if all(hits):
                found.append((rank[combo.tier], max(max(h) for h in hits) < last, order, combo.signal))
        if settled_at is not None:  # its text already says "earlier", so it takes no prefix
            found.append((rank[self.rules.settled_tier], False, len(found) + 1000, self.rules.settled_signal))
        signals: list[str] = []
        for _rank, earlier, _order, signal in sorted(found):
            label = self.rules.history_prefix + signal if earlier else signal
            if signal not in [s.removeprefix(self.rules.history_prefix) for s in signals]:
                signals.append(label)
        level: Level = TIERS[min(f[0] for f in found)] if found else "none"
        return Triage(level, tuple(signals))

    # -- one turn -------------------------------------------------------------

    def _events(self, doc: _Doc, turn_hours: float | None, conv_hours: float | None) -> list[tuple[int, int, Any]]:
        """(position, order, what) for one turn, where ``what`` is a rule id (a sign is
        present), ``_RELAPSE`` (cleared signs are back), or ``(ids, earlier_only_ids)``
        (those signs are over; ``ids`` None means all of them)."""
        text, events = doc.text, []
        none: frozenset[str] = frozenset()
        claimed: list[tuple[int, int]] = []  # words already read as an emergency sign
        for rule in self.rules.rules:
            mentions = list(rule.pattern.finditer(text))
            if rule.tier == "emergency":
                claimed += [m.span() for m in mentions]
            else:  # "lips are swelling up" is one sign, not also "swelling worsening"
                mentions = [m for m in mentions if not any(a < m.end() and m.start() < b for a, b in claimed)]
            # subtle: only the last mention that counts matters (a later "it's
            # gone" clears earlier ones too), so read from the end and stop there.
            for m in reversed(mentions):
                negated = self._negation(doc, m.start(), m.end())
                if negated == "over":
                    events.append((m.start(), 0, (frozenset({rule.id}), none)))
                if negated or self._hypothetical(doc, m.start(), m.end(), rule.tier):
                    continue
                if rule.when is None or self._escalates(rule, doc, m.start(), m.end(), turn_hours, conv_hours):
                    events.append((m.start(), 1, rule.id))
                    break
        lang = self._lang
        for m in lang["resolution.general"].finditer(text):
            if not self._relapsed(doc, m.end()):
                events.append((m.start(), 0, (None, none)))
        for m in lang["resolution.relapse"].finditer(text):
            if not self._negation(doc, m.start(), m.end()):
                events.append((m.start(), 2, _RELAPSE))
        for m in lang["resolution.phrases"].finditer(text):
            lo, _ = doc.span("phrase", m.start())
            before = text[lo:m.start()]
            if lang["resolution.blocked_by"].search(before) or self._partial(text, m) or self._relapsed(doc, m.end()):
                continue
            ids = frozenset(r.id for r in self.rules.rules if r.names(before))
            older = frozenset(r.id for r in self.rules.rules if r.names(before, earlier=True))
            if ids or older:
                events.append((m.start(), 0, (ids, older)))
        return events

    def _negation(self, doc: _Doc, start: int, end: int) -> str | None:
        """None if the mention stands, "no" if negated, "over" if said to be gone ("fever is gone", "no more pus")."""
        text, lang = doc.text, self._lang
        _, p_hi = doc.span("phrase", start)
        after = text[end:p_hi]
        gone = lang["resolution.phrases"].search(after)
        if (gone and len(_WORD.findall(after[:gone.start()])) <= self.rules.windows["negation_window_words"]
                and not lang["resolution.blocked_by"].search(after[:gone.start()])
                and not self._partial(after, gone) and not self._relapsed(doc, end + gone.end())):
            return "over"
        if lang["negation.answered_no"].match(text[end:end + 40]):
            return "no"
        lo, hi = doc.span("clause", start)
        words = list(_WORD.finditer(text, lo, start))[-self.rules.windows["negation_window_words"]:]
        if not words:
            return None
        w_lo = words[0].start()
        cue = _last(lang["negation.cues"], text, w_lo, start)
        stop = _last(lang["negation.resolving_cues"], text, w_lo, start)
        if stop and (cue is None or stop.end() >= cue.end()):
            cue = stop
        if cue is None:
            return None
        between = text[cue.end():start]
        if lang["negation.breakers"].search(between) or lang["negation.keep_if"].search(between):
            return None
        if _LIST_JOIN.search(between) and not lang["negation.list_end"].match(text[end:hi]):
            return None  # "no fever, pus coming out": the comma starts a new statement
        over = cue is stop or lang["negation.anymore"].match(text[end:hi])
        return "over" if over else "no"

    def _partial(self, text: str, m: re.Match[str]) -> bool:
        near = text[max(0, m.start() - 12):m.end() + 12]
        return bool(self._lang["resolution.partial"].search(near))

    def _relapsed(self, doc: _Doc, pos: int) -> bool:
        _, s_hi = doc.span("sentence", pos)
        _, next_hi = doc.span("sentence", min(s_hi + 1, len(doc.text)))
        return bool(self._lang["resolution.relapse"].search(doc.text, pos, min(next_hi, pos + _REACH)))

    def _hypothetical(self, doc: _Doc, start: int, end: int, tier: Level) -> bool:
        """True if the mention sits in a general question or someone else's story, not a report."""
        text, lang = doc.text, self._lang
        s_lo, s_hi = doc.span("sentence", start)
        sentence = text[s_lo:s_hi]
        markers = lang["hypothetical.report_markers"]
        if lang["hypothetical.report_frames"].search(sentence):
            return False
        c_lo, _ = doc.span("clause", start)
        cue = _last(lang["hypothetical.leading"], text, c_lo, start)
        governed = bool(cue and cue.end() <= start
                        and len(_WORD.findall(text[cue.end():start])) <= self.rules.windows["hypothetical_window_words"]
                        and not markers.search(text[cue.end():start]))
        if not governed and lang["hypothetical.trailing"].match(text[end:min(s_hi, end + 80)]):
            governed = not markers.search(text[c_lo:start])
        opens_sentence = start - s_lo < _REACH  # the sentence start is real, not the reach limit
        if not governed and opens_sentence and lang["hypothetical.general_question"].match(sentence):
            governed = not markers.search(sentence)
        if governed and tier == "emergency":
            # An airway sign is only set aside when nothing in the sentence says
            # it is happening to the user ("what if my lips swell?" escalates).
            governed = not markers.search(lang["hypothetical.leading"].sub(" ", sentence))
        return governed

    def _escalates(self, rule: Rule, doc: _Doc, start: int, end: int,
                   turn_hours: float | None, conv_hours: float | None) -> bool:
        """For findings normal early on: does one of the rule's conditions hold?"""
        assert rule.when is not None
        when, text, lang = rule.when, doc.text, self._lang
        s_lo, s_hi = doc.span("sentence", start)
        if when.worsening:
            _, next_hi = doc.span("sentence", min(s_hi + 1, len(text)))
            if self._any(lang["modifiers.worsening"], doc, s_lo, next_hi):
                return True
        c_lo, c_hi = doc.span("clause", start)
        words = list(_WORD.finditer(text, c_lo, c_hi))
        n = self.rules.windows["modifier_window_words"]
        first = next((i for i, w in enumerate(words) if w.end() > start), 0)
        last = next((i for i, w in reversed(list(enumerate(words))) if w.start() < end), first)
        near_lo = words[max(0, first - n)].start() if words else start
        near_hi = words[min(len(words) - 1, last + n)].end() if words else end
        if when.severe and self._any(lang["modifiers.severe"], doc, near_lo, near_hi):
            return True
        if when.also_if is not None and self._any(when.also_if, doc, near_lo, near_hi):
            return True
        if when.after_hours is not None:
            if self._any(lang["modifiers.improving"], doc, c_lo, c_hi):
                return False  # fading on day 3 is the expected course
            hours = self.rules.durations.hours(text[s_lo:s_hi])
            hours = hours if hours is not None else turn_hours if turn_hours is not None else conv_hours
            return hours is not None and hours > when.after_hours
        return False

    def _any(self, pattern: re.Pattern[str], doc: _Doc, lo: int, hi: int) -> bool:
        """A modifier found in [lo, hi) that is not itself negated ("not getting worse")."""
        return any(not self._negation(doc, m.start(), m.end()) for m in pattern.finditer(doc.text, lo, hi))


@lru_cache(maxsize=1)
def _bundled() -> Triager:
    return Triager.from_file()


def triage(message: str, history: Sequence[Turn] = ()) -> Triage:
    """Triage with the bundled rules (loaded once, then cached)."""
    return _bundled().assess(message, history)
