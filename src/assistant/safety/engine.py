"""``Triager``: the layers of triage, run in order on a message and the user's earlier turns.

1. **Rules and their context** (``context.py``) decide first, on every turn.
2. **Spelling** (``spelling.py``): the rules again on text whose misspelt
   domain words are corrected ("hivs" -> "hives").
3. **Languages** (``languages.py``): the core signs in other languages, any
   word order; and the fail-safe when the language is not covered or unsure.
4. **Semantic** (``semantic.py``, only with an encoder): each sentence of the
   message against labelled phrasings.

Every layer after the first can only raise the tier, never lower it. Layers
2-4 read the new message; earlier turns are read by the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from assistant.schema import Level, Triage, Turn
from assistant.safety.context import RuleEngine
from assistant.safety.languages import DEFAULT_LANGUAGES, Detection, LanguageGuard, Lexicon, lexicon_hits, load_lexicons
from assistant.safety.normalise import normalise
from assistant.safety.rules import Rules
from assistant.safety.semantic import DEFAULT_BANK, DEFAULT_CACHE, Bank, Encoder, SemanticLayer
from assistant.safety.spelling import SpellingLayer

__all__ = ["FAILSAFE", "Triager", "raise_to"]

log = logging.getLogger(__name__)

# Said when the code itself fails. Triage must not raise on user text, and
# "none" would be the unsafe answer, so a failure escalates.
FAILSAFE = Triage("urgent", ("this message could not be checked for warning signs",))
_RANK: dict[Level, int] = {"none": 0, "urgent": 1, "emergency": 2}
# Layers 2-4 also read this many of the user's earlier turns: a sign said in other words,
# or another language, two messages ago still counts ("what should I do now?").
EARLIER_TURNS = 3


def raise_to(current: Triage, level: Level, signals: Sequence[str], advisory: str | None = None) -> Triage:
    """``current`` raised to ``level`` (never lowered), with ``signals`` added after those it has.

    >>> raise_to(Triage("urgent", ("fever or chills",)), "none", ["x"]).signals
    ('fever or chills',)
    """
    if _RANK[level] < _RANK[current.level] or (level == "none" and current.level == "none"):
        return current if advisory is None else replace(current, advisory=current.advisory or advisory)
    new = tuple(s for s in signals if s not in current.signals)
    ordered = (*new, *current.signals) if _RANK[level] > _RANK[current.level] else (*current.signals, *new)
    return Triage(level if _RANK[level] > _RANK[current.level] else current.level, ordered,
                  current.advisory or advisory)


class Triager:
    """Applies a rules file, and the layers built on it, to a message and the user's earlier turns.

    >>> Triager.from_file().assess("what should I do?", [Turn("user", "I have a fever")]).signals
    ('earlier: fever or chills',)
    """

    def __init__(self, rules: Rules, bank: Bank | None = None, lexicons: dict[str, Lexicon] | None = None,
                 failsafe_en: str | None = None, semantic: SemanticLayer | None = None) -> None:
        self.rules = rules
        self.engine = RuleEngine(rules)
        self.bank = bank
        self._tiers = {r.id: r.tier for r in rules.rules}
        self._signal = {r.id: r.signal for r in rules.rules}
        self._spelling: SpellingLayer | None = None
        self.lexicons = lexicons or {}
        self.guard = LanguageGuard(self.lexicons, failsafe_en) if failsafe_en else None
        self.semantic = semantic

    @classmethod
    def from_file(cls, path: Path | None = None, bank: Path | None = DEFAULT_BANK,
                  languages: Path | None = DEFAULT_LANGUAGES) -> Triager:
        """Load and validate a rules file (default: the bundled ``data/redflags.yaml``), with the
        bundled phrasing bank and language lexicons; ``bank=None`` or ``languages=None`` leaves a layer out."""
        rules = Rules.from_file(path)
        lexicons, failsafe = load_lexicons(rules, languages) if languages is not None else ({}, None)
        return cls(rules, Bank.from_file(rules, bank) if bank is not None else None, lexicons, failsafe)

    def with_semantic(self, encode: Encoder, threshold: float, margin: float,
                      cache_dir: Path | None = DEFAULT_CACHE) -> Triager:
        """A copy with the semantic layer on, comparing sentences with ``encode`` (the product's model)."""
        if self.bank is None:
            raise ValueError("The semantic layer needs a phrasing bank; load the Triager with one.")
        layer = SemanticLayer(self.bank, encode, threshold, margin, cache_dir)
        return Triager(self.rules, self.bank, self.lexicons, self.guard.failsafe_en if self.guard else None, layer)

    @property
    def spelling(self) -> SpellingLayer | None:
        """Built on first use from the words of the phrasing bank (about 50 ms, once)."""
        if self._spelling is None and self.bank is not None:
            texts = [t for group in (self.bank.examples, self.bank.counterexamples) for ts in group.values() for t in ts]
            self._spelling = SpellingLayer(normalise(" ".join(texts)).split())
        return self._spelling

    def assess(self, message: str, history: Sequence[Turn] = (), also_encode: Sequence[str] = ()) -> Triage:
        """Triage ``message`` in the context of ``history``; never raises on any text.

        ``also_encode``: texts the caller will embed next (the retrieval query), embedded
        in the same batch as the semantic layer's sentences when that layer runs."""
        try:
            texts = [t.content for t in history
                     if getattr(t, "role", None) == "user" and isinstance(getattr(t, "content", None), str)]
            texts.append(message if isinstance(message, str) else str(message or ""))
            return self._assess(texts, tuple(also_encode))
        except Exception:  # noqa: BLE001 - triage must answer; escalating is the safe failure
            log.exception("triage failed; escalating to %s", FAILSAFE.level)
            return FAILSAFE

    def _corrected(self, text: str) -> str:
        spelling = self.spelling
        return spelling.correct(text) if spelling is not None else text

    def _assess(self, texts: list[str], also_encode: tuple[str, ...] = ()) -> Triage:
        normalised = [normalise(t, self.rules.emoji, self.rules.abbreviations) for t in texts]
        verdict = self.engine.assess([self.engine.doc(t) for t in normalised])
        try:
            return self._later_layers(verdict, texts, normalised, also_encode)
        except Exception:  # noqa: BLE001 - a failing layer must not take the rules' verdict with it
            log.exception("a triage layer failed; keeping the rules' verdict, at least %s", FAILSAFE.level)
            return raise_to(verdict, FAILSAFE.level, FAILSAFE.signals)

    def _later_layers(self, verdict: Triage, texts: list[str], normalised: list[str],
                      also_encode: tuple[str, ...]) -> Triage:
        # Earlier turns: only what the rules could not read there, and nothing once the
        # message says something is over (the rules track what is over, sign by sign).
        if len(texts) > 1 and not self.engine.says_over(normalised[-1]):
            for raw, text in list(zip(texts, normalised))[-1 - EARLIER_TURNS:-1]:
                ruled = self.engine.assess([self.engine.doc(text)]).signals
                for rid in self._read(raw, text, ()):
                    if self._signal[rid] not in ruled:
                        verdict = raise_to(verdict, self._tiers[rid], [self.rules.history_prefix + self._signal[rid]])
        detection = self.guard.detect(texts[-1], normalised[-1]) if self.guard is not None else None
        for rid in (found := self._read(texts[-1], normalised[-1], also_encode, verdict, detection)):
            verdict = raise_to(verdict, self._tiers[rid], [found[rid]])
        if self.guard is not None and detection is not None and not detection.covered:
            verdict = raise_to(verdict, "urgent", [f"message in a language the warning-sign check cannot read "
                                                   f"reliably ({detection.code or 'unknown'}): warning signs "
                                                   "cannot be ruled out"],
                               advisory=self.guard.failsafe_text(detection))
        return self._combinations(verdict, set(found))

    def _read(self, raw: str, text: str, also_encode: tuple[str, ...],
              verdict: Triage | None = None, detection: Detection | None = None) -> dict[str, str]:
        """What layers 3-5 find in one turn: rule id -> signal. English gets the spelling and
        semantic layers; another language its lexicons (the likeliest ones when unsure).
        ``detection``: the turn's language, when the caller has told it already."""
        if detection is None and self.guard is not None:
            detection = self.guard.detect(raw, text)
        found: dict[str, str] = {}
        if detection is not None and not (detection.covered and not detection.candidates):
            for code in detection.candidates:
                lexicon = self.lexicons[code]
                for hit in lexicon_hits(lexicon, text, self._tiers):
                    found.setdefault(hit.rule_id, f"{self._signal[hit.rule_id]} ({lexicon.name})")
            return found
        corrected = self._corrected(text)
        if verdict is not None and corrected != text:  # the rules again, on the corrected message
            spelt = self.engine.assess([self.engine.doc(corrected)])
            for rule in self.rules.rules:
                if rule.signal in spelt.signals and rule.signal not in verdict.signals:
                    found[rule.id] = rule.signal
        if self.semantic is not None and (verdict is None or verdict.level != "emergency"):
            # subtle: a sign the rules read in this very sentence and found negated or over is
            # theirs to judge; the semantic layer is for wording they cannot read.
            for match in self.semantic.matches(corrected, also_encode):
                tier = self._tiers[match.rule_id]
                if match.rule_id in self.engine.read_and_set_aside(match.sentence) or \
                        self.engine.sets_aside(match.sentence, tier) or \
                        self.engine.condition_unmet(match.sentence, match.rule_id, corrected):
                    continue
                found.setdefault(match.rule_id, self._signal[match.rule_id])
        return found

    def _combinations(self, verdict: Triage, found: set[str]) -> Triage:
        """The rules' combinations (hives with vomiting is anaphylaxis) over what every layer found."""
        if not found:
            return verdict
        ids = found | {rid for rid, signal in self._signal.items() if signal in verdict.signals}
        for combo in self.rules.combinations:
            if all(group & ids for group in combo.all_of):
                verdict = raise_to(verdict, combo.tier, [combo.signal])
        return verdict
