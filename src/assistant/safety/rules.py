"""The red-flag rules file (``data/redflags.yaml``): its records, and the loader that validates it.

Every problem in the file raises ``DataFileError`` naming the place and the fix.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import DataFileError
from assistant.schema import Level
from assistant.safety.durations import Durations
from assistant.safety.normalise import COMBINING, Abbreviations

__all__ = ["DEFAULT_RULES", "REVIEW", "TIERS", "Combination", "Condition", "Rule", "Rules", "load_yaml", "stems_pattern"]

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "data" / "redflags.yaml"
TIERS: tuple[Level, ...] = ("emergency", "urgent")
# Who reviewed a data file, and when; filled in only when a review happens.
REVIEW = ("reviewed_by", "reviewed_on")
_MACRO = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: 10x faster


def load_yaml(path: Path, what: str) -> Any:
    """Parse a triage data file; a missing or malformed one raises DataFileError saying what to do."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except OSError as exc:
        raise DataFileError(
            f"{what} {path} cannot be read ({exc.strerror or exc}). Check the path, or omit it to use the bundled one."
        ) from exc
    except yaml.YAMLError as exc:
        raise DataFileError(f"{what} {path} is not valid YAML: {exc}. Fix the syntax.") from exc


@lru_cache(maxsize=256)
def stems_pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    """Matches a word that starts with one of ``stems``."""
    return re.compile(r"\b(?:%s)" % "|".join(re.escape(s) for s in stems))


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
        return bool(stems) and stems_pattern(stems).search(words) is not None


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
    abbreviations: Abbreviations
    durations: Durations
    history_prefix: str
    settled_signal: str
    settled_tier: Level
    path: Path

    @classmethod
    def from_file(cls, path: Path | None = None) -> Rules:
        path = Path(path) if path is not None else DEFAULT_RULES
        data = load_yaml(path, "Red-flag rules file")
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
    "hypothetical": ("leading", "trailing", "report_markers", "report_frames", "general_question", "past_episode",
                     "present"),
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
            folded = COMBINING.sub("", unicodedata.normalize("NFKD", bare)).casefold()
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
        optional = ("combinations", "macros", "emoji", "abbreviations", "history_prefix", *REVIEW)
        top = self.mapping(data, "top level", required, (*required, *optional))
        if top["version"] != 1:
            raise self.fail("version", f"unsupported version {top['version']!r}; this code reads version 1.")
        for name, body in self.mapping(top.get("macros", {}), "macros").items():
            self.macros[str(name)] = self.text(body, f"macros.{name}")
        emoji = {str(k): str(v) for k, v in self.mapping(top.get("emoji", {}), "emoji").items()}
        short = {str(k).lower(): str(v) for k, v in self.mapping(top.get("abbreviations", {}), "abbreviations").items()}
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
            abbreviations=Abbreviations(short),
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

    def durations(self, value: Any) -> Durations:
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
        return Durations.build(tables["numbers"], tables["ordinals"], tables["units"], day_words, named)

