"""The rules and their context: a mention counts unless it is negated, hypothetical or over.

The engine reads normalised turns (oldest first, the message last) and returns
the tier of the signs that still stand, with their plain-language names. A
mention does not count if it is negated ("no fever"), part of a general
question ("what are the signs of infection?") or over ("the fever is gone").
Findings that are normal early on (redness, swelling, pimples) count only when
they last too long, get worse or are severe.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

from assistant.schema import Level, Triage
from assistant.safety.rules import TIERS, Rule, Rules

__all__ = ["Doc", "RuleEngine"]

_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"[!?;\n]+|\.(?!\d)")
_COMMA = re.compile(r",")
_LIST_JOIN = re.compile(r",|\b(?:and|y|et)\b")
_RELAPSE = "<relapse>"  # an event: signs cleared earlier are back
# How far (in characters) the code looks around a mention for cues. A run-on
# "sentence" of 20,000 characters is read locally, which keeps the work linear.
_REACH = 240
# An emergency sign reported over, in a turn that dates it this long ago, needs no same-day check.
SETTLED_LONG_AGO_HOURS = 48
# Another layer's finding of a sign normal early on is set aside only on the day of treatment.
SAME_DAY_HOURS = 24


class Doc:
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


def _last(pattern: re.Pattern[str], text: str, lo: int, hi: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, lo, hi):  # noqa: B007 - we want the last one
        pass
    return found


class RuleEngine:
    """Applies validated rules to normalised turns."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._by_id = {r.id: r for r in rules.rules}
        self._lang = rules.lang

    def doc(self, normalised: str) -> Doc:
        return Doc(normalised, self._lang["clauses.contrast"])

    def assess(self, docs: list[Doc]) -> Triage:
        """The tier of the signs that stand across ``docs`` (turns, oldest first)."""
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
        if settled_at is not None and (turn_hours[settled_at] or 0) >= SETTLED_LONG_AGO_HOURS:
            settled_at = None  # "that was two days ago, not since": past the window of a same-day check
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

    def _events(self, doc: Doc, turn_hours: float | None, conv_hours: float | None) -> list[tuple[int, int, Any]]:
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

    def _negation(self, doc: Doc, start: int, end: int) -> str | None:
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
        # subtle: a mention that opens with its own subject ("it's getting worse") starts a new statement
        first = _WORD.match(text, start)
        opening = f"{between} {first.group(0)}" if first else between
        if lang["negation.breakers"].search(opening) or lang["negation.keep_if"].search(between):
            return None
        if _LIST_JOIN.search(between) and not lang["negation.list_end"].match(text[end:hi]):
            return None  # "no fever, pus coming out": the comma starts a new statement
        over = cue is stop or lang["negation.anymore"].match(text[end:hi])
        return "over" if over else "no"

    def _partial(self, text: str, m: re.Match[str]) -> bool:
        near = text[max(0, m.start() - 12):m.end() + 12]
        return bool(self._lang["resolution.partial"].search(near))

    def _relapsed(self, doc: Doc, pos: int) -> bool:
        _, s_hi = doc.span("sentence", pos)
        _, next_hi = doc.span("sentence", min(s_hi + 1, len(doc.text)))
        return bool(self._lang["resolution.relapse"].search(doc.text, pos, min(next_hi, pos + _REACH)))

    def _hypothetical(self, doc: Doc, start: int, end: int, tier: Level) -> bool:
        """True if the mention sits in a general question or someone else's story, not a report."""
        text, lang = doc.text, self._lang
        s_lo, s_hi = doc.span("sentence", start)
        sentence = text[s_lo:s_hi]
        markers = lang["hypothetical.report_markers"]
        if self._long_over(sentence):
            return True  # "I got hives after microneedling two years ago": an episode long over
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
            # "what is cellulitis and how would I know if I had it?": the if-clause is no report
            governed = not markers.search(lang["hypothetical.leading"].sub(" ", sentence))
        if governed and tier == "emergency":
            # An airway sign is only set aside when nothing in the sentence says
            # it is happening to the user ("what if my lips swell?" escalates).
            governed = not markers.search(lang["hypothetical.leading"].sub(" ", sentence))
        return governed

    def says_over(self, text: str) -> bool:
        """Does this turn say that something earlier is over ("it's gone", "I'm fine now")?"""
        doc = self.doc(text)
        for name in ("resolution.general", "resolution.phrases"):
            for m in self._lang[name].finditer(text):
                lo, _ = doc.span("phrase", m.start())
                if not self._lang["resolution.blocked_by"].search(text, lo, m.start()) \
                        and not self._partial(text, m) and not self._relapsed(doc, m.end()):
                    return True
        return False

    def _long_over(self, sentence: str) -> bool:
        """An episode dated long ago, with nothing saying it is happening now ("fine now" is no "now")."""
        lang = self._lang
        if not lang["hypothetical.past_episode"].search(sentence):
            return False
        return not lang["hypothetical.present"].search(lang["resolution.general"].sub(" ", sentence))

    def read_and_set_aside(self, sentence: str) -> set[str]:
        """Rules that mention a sign in this sentence, every mention negated or said to be over."""
        doc = self.doc(sentence)
        return {rule.id for rule in self.rules.rules
                if (mentions := list(rule.pattern.finditer(sentence)))
                and all(self._negation(doc, m.start(), m.end()) for m in mentions)}

    def condition_unmet(self, sentence: str, rule_id: str, message: str) -> bool:
        """For a finding that is normal early on (a rule with ``when``), found by another layer in
        this sentence: does the message say it is early, with nothing worse or severe?"""
        rule = self._by_id[rule_id]
        when, lang = rule.when, self._lang
        if when is None:
            return False
        if (when.worsening and lang["modifiers.worsening"].search(sentence)) or \
                (when.severe and lang["modifiers.severe"].search(sentence)) or \
                (when.also_if is not None and when.also_if.search(sentence)):
            return False
        # subtle: only a time that contradicts the condition sets it aside ("red from this
        # morning's session"); a phrasing that merely leaves the time out still counts.
        hours = self.rules.durations.hours(sentence)
        hours = hours if hours is not None else self.rules.durations.hours(message)
        return when.after_hours is not None and hours is not None and hours < min(when.after_hours, SAME_DAY_HOURS)

    def sets_aside(self, sentence: str, tier: Level) -> bool:
        """Would the context rules set aside a sign reported anywhere in this one normalised sentence?

        For the layers that find a sign without a position (the semantic layer): a
        general question, someone else's story, an episode long over, a negated list
        ("no fever, no pus"), and, below emergency, a sign said to be improving
        ("already going down") with nothing worsening or severe.
        """
        lang = self._lang
        markers = lang["hypothetical.report_markers"]
        if self._long_over(sentence):
            return True
        if not lang["hypothetical.report_frames"].search(sentence):
            questioned = lang["hypothetical.general_question"].match(sentence) or lang["hypothetical.leading"].search(sentence)
            if questioned and not markers.search(lang["hypothetical.leading"].sub(" ", sentence)):
                return True
        if len(lang["negation.cues"].findall(sentence)) >= 2 and not lang["clauses.contrast"].search(sentence):
            return True  # "no fever, no pus, nothing weeping"
        if tier == "emergency":
            return False
        if lang["modifiers.worsening"].search(sentence) or lang["modifiers.severe"].search(sentence):
            return False
        return any(not self._negation(self.doc(sentence), m.start(), m.end())
                   for m in lang["modifiers.improving"].finditer(sentence))

    def _escalates(self, rule: Rule, doc: Doc, start: int, end: int,
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
            # fading on day 3 is the expected course; said anywhere in a sentence with no "but"
            lo, hi = (s_lo, s_hi) if not lang["clauses.contrast"].search(text, s_lo, s_hi) else (c_lo, c_hi)
            if self._any(lang["modifiers.improving"], doc, lo, hi):
                return False
            hours = self.rules.durations.hours(text[s_lo:s_hi])
            hours = hours if hours is not None else turn_hours if turn_hours is not None else conv_hours
            return hours is not None and hours > when.after_hours
        return False

    def _any(self, pattern: re.Pattern[str], doc: Doc, lo: int, hi: int) -> bool:
        """A modifier found in [lo, hi) that is not itself negated ("not getting worse")."""
        return any(not self._negation(doc, m.start(), m.end()) for m in pattern.finditer(doc.text, lo, hi))

