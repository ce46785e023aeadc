"""Languages: the core warning signs in other languages, and a fail-safe where no rule can read.

``data/redflag_languages.yaml`` holds, per language, terms for the core signs.
A term is parts joined by " + " that must all appear in one sentence, in any
order ("garganta + fechando" matches "a garganta está fechando" and "está
fechando a garganta"); each word of a part matches a word starting with it
(script "words") or anywhere (script "chars", for Chinese, Japanese, Thai). A
term is not counted when a negation cue comes just before it ("sem febre") or
just after it (Korean "열이 없어요"); an urgent-tier term is also not counted in
a sentence that says the sign is over, opens a general question, or tells
someone else's story. An emergency is set aside by negation only.

For a message in a language no lexicon covers, or when the language cannot be
told with confidence, the rules cannot rule out a red flag. The guard then
raises to at least ``urgent`` and adds a fixed fail-safe notice listing the
warning signs: in the message's language when it is covered, in English
otherwise. The language is detected with py3langid, which ships its own model.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from assistant.errors import DataFileError
from assistant.schema import Level
from assistant.safety.normalise import normalise
from assistant.safety.rules import REVIEW, Rules, load_yaml
from assistant.safety.spelling import english_words

__all__ = ["DEFAULT_LANGUAGES", "Detection", "LanguageGuard", "Lexicon", "LexiconHit", "load_lexicons"]

DEFAULT_LANGUAGES = Path(__file__).resolve().parents[1] / "data" / "redflag_languages.yaml"
_FIELDS = ("name", "script", "negation_before", "negation_after", "contrast", "over", "general", "others",
           "failsafe", "signals")
_OPTIONAL = ("markers", "prefixes")
_SENTENCE = re.compile(r"[^.!?;\n。！？؟।]+")
_WORD = re.compile(r"[^\W\d_]+")
NEGATION_BEFORE_WORDS = 3
NEGATION_AFTER_WORDS = 2
NEGATION_CHARS = 3  # script "chars": a cue this close before a term negates it ("没有发烧")


@dataclass(frozen=True)
class Lexicon:
    """One language's terms, compiled to patterns over normalised text on first use
    (34 languages' worth takes most of a second, and a message needs one or two)."""

    code: str
    name: str
    script: str
    phrases: dict[str, tuple[str, ...]]  # rule id -> terms as written
    prefixes: str
    negation_before: re.Pattern[str] | None
    negation_after: re.Pattern[str] | None
    contrast: re.Pattern[str] | None
    context: re.Pattern[str] | None  # over / general / others: an urgent term in such a sentence is set aside
    failsafe: str
    markers: frozenset[str] = frozenset()

    @cached_property
    def terms(self) -> dict[str, tuple[tuple[re.Pattern[str], ...], ...]]:
        """rule id -> terms -> the compiled pattern of each part."""
        chars = self.script == "chars"
        return {rid: tuple(tuple(_part(p, chars, self.prefixes) for p in term.split(" + ") if normalise(p))
                           for term in phrases)
                for rid, phrases in self.phrases.items()}


@dataclass(frozen=True)
class LexiconHit:
    code: str
    rule_id: str
    tier: Level


@dataclass(frozen=True)
class Detection:
    """What the guard concluded: the likeliest language, whether the rules or lexicons can read
    the message, and which lexicons to read it with (the covered languages among the likeliest)."""

    code: str | None
    confidence: float
    covered: bool
    candidates: tuple[str, ...] = ()


def _alternation(phrases: list[str], chars: bool) -> re.Pattern[str] | None:
    folded = [normalise(p) for p in phrases if normalise(p)]
    if not folded:
        return None
    body = "|".join(re.escape(p) for p in sorted(folded, key=len, reverse=True))
    return re.compile(body if chars else rf"(?<!\w)(?:{body})(?!\w)")


def _part(part: str, chars: bool, prefixes: str) -> re.Pattern[str]:
    words = normalise(part).split()
    if chars:
        return re.compile(re.escape("".join(words)))
    return re.compile(r"(?<!\w)" + prefixes + r"\w*\W+".join(re.escape(w) for w in words) + r"\w*")


def load_lexicons(rules: Rules, path: Path | None = None) -> tuple[dict[str, Lexicon], str]:
    """The lexicons by language code, and the English fail-safe notice; a problem raises DataFileError."""
    path = Path(path) if path is not None else DEFAULT_LANGUAGES
    data = load_yaml(path, "Red-flag language lexicon")
    where = f"Red-flag language lexicon {path}"
    if (not isinstance(data, dict) or not {"version", "failsafe", "languages"} <= set(data)
            or set(data) - {"version", "failsafe", "languages", *REVIEW} or data["version"] != 1):
        raise DataFileError(f"{where}: the top level must be exactly 'version: 1', 'failsafe:' (the English "
                            "fail-safe notice) and 'languages:'.")
    if not isinstance(data["failsafe"], str) or not data["failsafe"].strip():
        raise DataFileError(f"{where}: failsafe must be the English fail-safe notice.")
    tiers = {r.id: r.tier for r in rules.rules}
    out = {}
    for code, body in (data["languages"] or {}).items():
        here = f"{where}: language {code!r}"
        if not isinstance(body, dict) or set(_FIELDS) - set(body) or set(body) - set(_FIELDS) - set(_OPTIONAL):
            raise DataFileError(f"{here} must have exactly the fields {', '.join(_FIELDS)} (and optionally "
                                f"{', '.join(_OPTIONAL)}).")
        if body["script"] not in ("words", "chars"):
            raise DataFileError(f"{here}: script must be 'words' or 'chars', not {body['script']!r}.")
        chars = body["script"] == "chars"
        lists = {k: body[k] for k in _FIELDS if k not in ("name", "script", "failsafe", "signals")}
        for key, value in [*lists.items(), *((k, body.get(k, [])) for k in _OPTIONAL)]:
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise DataFileError(f"{here}: {key} must be a list of non-empty texts.")
        # Clitics written onto a word (Arabic "و" and, "ال" the): a term word may follow one.
        clitics = sorted((normalise(p) for p in body.get("prefixes", []) if normalise(p)), key=len, reverse=True)
        prefixes = f"(?:{'|'.join(map(re.escape, clitics))})?" if clitics else ""
        terms: dict[str, tuple[str, ...]] = {}
        for rid, phrases in (body["signals"] or {}).items():
            if rid not in tiers:
                raise DataFileError(f"{here}: signal {rid!r} is not a rule id in {rules.path.name}.")
            if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
                raise DataFileError(f"{here}: signal {rid!r} must be a list of terms.")
            terms[rid] = tuple(phrases)
        if not isinstance(body["failsafe"], str) or not body["failsafe"].strip():
            raise DataFileError(f"{here}: failsafe must be the translated fail-safe notice.")
        out[str(code)] = Lexicon(
            code=str(code), name=str(body["name"]), script=body["script"], phrases=terms, prefixes=prefixes,
            negation_before=_alternation(lists["negation_before"], chars),
            negation_after=_alternation(lists["negation_after"], chars),
            contrast=_alternation(lists["contrast"], chars),
            context=_alternation(lists["over"] + lists["general"] + lists["others"], chars),
            failsafe=" ".join(body["failsafe"].split()),
            markers=frozenset(normalise(m) for m in body.get("markers", [])),
        )
    return out, " ".join(data["failsafe"].split())


def _negated(lexicon: Lexicon, sentence: str, start: int, end: int) -> bool:
    before, after = sentence[:start], sentence[end:]
    if lexicon.contrast is not None:
        cut = [m.end() for m in lexicon.contrast.finditer(before)]
        before = before[cut[-1]:] if cut else before
        stop = lexicon.contrast.search(after)
        after = after[:stop.start()] if stop else after
    if lexicon.script == "chars":
        near_before, near_after = before[-NEGATION_CHARS - 2:], after[:NEGATION_CHARS + 2]
    else:
        near_before = " ".join(_WORD.findall(before)[-NEGATION_BEFORE_WORDS:])
        near_after = " ".join(_WORD.findall(after)[:NEGATION_AFTER_WORDS])
    return bool((lexicon.negation_before and lexicon.negation_before.search(near_before))
                or (lexicon.negation_after and lexicon.negation_after.search(near_after)))


def _gap_negated(lexicon: Lexicon, gaps: str) -> bool:
    return bool(gaps.strip()) and any(p is not None and p.search(gaps) for p in (lexicon.negation_before,
                                                                                   lexicon.negation_after))


def lexicon_hits(lexicon: Lexicon, text: str, tiers: Mapping[str, Level]) -> list[LexiconHit]:
    """The signs ``lexicon`` finds in normalised ``text``, sentence by sentence."""
    hits: dict[str, LexiconHit] = {}
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        set_aside = lexicon.context is not None and lexicon.context.search(sentence) is not None
        for rid, terms in lexicon.terms.items():
            if rid in hits or (set_aside and tiers[rid] != "emergency"):
                continue
            for parts in terms:
                found = [p.search(sentence) for p in parts]
                if parts and all(found):
                    spans = sorted(f.span() for f in found if f)
                    # A cue between two parts negates too ("lips are not swollen").
                    gaps = " ".join(sentence[a[1]:b[0]] for a, b in zip(spans, spans[1:]) if b[0] > a[1])
                    if not _negated(lexicon, sentence, spans[0][0], max(e for _, e in spans)) and not _gap_negated(lexicon, gaps):
                        hits[rid] = LexiconHit(lexicon.code, rid, tiers[rid])
                        break
    return list(hits.values())


_IDENTIFIER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's bundled model (97 languages, 0.6 s to load, sub-millisecond per message),
    loaded once even when many first messages arrive together."""
    with _IDENTIFIER_LOCK:  # lru_cache alone lets each waiting thread load its own copy
        return _load_identifier()


@lru_cache(maxsize=1)
def _load_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # lazy: only a non-English message needs it

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageGuard:
    """Tells which language a message is in, and whether the rules or a lexicon can read it."""

    # Fewer letters than this say too little to tell a language by ("sin fiebre ni pus").
    MIN_LETTERS = 20
    # This share of a message's words in the English dictionary makes it English ("lips r huge rn").
    ENGLISH_SHARE = 0.6
    MARKER_SHARE = 0.2
    MIN_MARKERS = 2
    CONFIDENCE = 0.5
    CANDIDATES = 3  # the likeliest languages whose lexicons read a message
    UNSURE_CANDIDATES = 5  # ... and when the language cannot be told
    CANDIDATE_SHARE = 0.1

    def __init__(self, lexicons: Mapping[str, Lexicon], failsafe_en: str) -> None:
        self.lexicons = dict(lexicons)
        self.failsafe_en = failsafe_en

    def detect(self, raw: str, normalised: str) -> Detection:
        words = _WORD.findall(normalised)
        if not words:
            return Detection("en", 1.0, True)
        english = english_words()
        # subtle: on the raw words, since without accents "mặt vẫn đỏ" reads "mat van do".
        # Words of one or two letters are English and Italian alike ("ho la febbre").
        raw_words = [w for w in _WORD.findall(unicodedata.normalize("NFC", raw).casefold()) if len(w) > 2] or words
        share = sum(1 for w in raw_words if w in english) / len(raw_words)
        if share >= self.ENGLISH_SHARE:
            return Detection("en", share, True)
        ranked = [(str(c), float(p)) for c, p in _identifier().rank(raw)[:self.UNSURE_CANDIDATES]]
        top, confidence = ranked[0]
        sure = (top == "en" or top in self.lexicons) and confidence >= self.CONFIDENCE
        for code, lexicon in self.lexicons.items():  # romanised languages py3langid has no model for
            hits = sum(1 for w in words if w in lexicon.markers)
            if not sure and hits >= self.MIN_MARKERS and hits / len(words) >= self.MARKER_SHARE:
                return Detection(code, 1.0, True, (code,))
        if sum(len(w) for w in words) < self.MIN_LETTERS:
            # Too short to be sure of the language, and too short to hide much: read it with
            # the lexicons of the likeliest covered languages, with no fail-safe.
            short = tuple(c for c, _ in ranked[:self.CANDIDATES] if c in self.lexicons)
            return Detection(top, confidence, True, short)
        known = [(c, p) for c, p in ranked[:self.CANDIDATES]
                 if (c == "en" or c in self.lexicons) and p >= self.CANDIDATE_SHARE]
        # Sure enough when the likeliest language is covered, or when the covered candidates
        # together are more likely than not ("sin fiebre ni pus" is too short to be sure it is Spanish).
        covered = sure or (confidence < self.CONFIDENCE and sum(p for _, p in known) >= self.CONFIDENCE)
        if covered:
            return Detection(top, confidence, True, tuple(c for c, _ in known if c != "en"))
        # Unsure: the lexicons of the likeliest covered languages still read it, beside the fail-safe.
        return Detection(top, confidence, False, tuple(c for c, _ in ranked if c in self.lexicons))

    def failsafe_text(self, detection: Detection) -> str:
        lexicon = self.lexicons.get(detection.code or "")
        return lexicon.failsafe if lexicon is not None else self.failsafe_en
