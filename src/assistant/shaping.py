"""The escalation tier shapes the answer's body, whatever the answerer wrote.

This is part of the fixed safety layer: it runs after every answerer, extractive
or LLM, on the sentence roles of data/answers.yaml (assistant.roles).

- ``emergency``: the body keeps only sentences that send the reader to help now
  and give no self-care; with none, it is the fixed ``emergency_body`` text of
  data/safety.yaml. Nothing in it can be taken as "treat this at home first".
- ``urgent``: sentences that say the problem passes by itself are dropped, and
  the first sentence is one that sends the reader to a professional: the
  answer's own, or the most relevant such sentence of the retrieved passages.
- ``none``: the body is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from assistant.answer import Composition, Evidence, Unit, assemble, units_of, usable
from assistant.roles import Roles


def _from_evidence(evidence: Evidence, wanted: Sequence[int]) -> list[Unit]:
    return [Unit(evidence.candidates[i].text, (evidence.candidates[i].chunk.chunk_id,),
                 (evidence.candidates[i].text,)) for i in wanted]


# A sentence brought in under an emergency scores within this much of the closest
# sentence: sent to help now about the reaction asked about, not about another one.
EMERGENCY_REACH = 0.2


def _ranked(evidence: Evidence, keep: Callable[[str], bool], reach: float | None = None) -> list[int]:
    """Candidates that ``keep`` accepts, the closest to the question first (within ``reach``
    of the closest candidate of all, when given)."""
    closeness = [float(c.vector @ evidence.query_vector) for c in evidence.candidates]
    floor = max(closeness, default=0.0) - reach if reach is not None else -1.0
    scored = [(closeness[i], i) for i, c in enumerate(evidence.candidates)
              if usable(c.text) and keep(c.text) and closeness[i] >= floor]
    return [i for _, i in sorted(scored, reverse=True)]


class Shaper:
    """``shape(composition, evidence, level)``: the body a tier allows."""

    def __init__(self, roles: Roles, emergency_body: str) -> None:
        self.roles = roles
        self.emergency_body = emergency_body

    def shape(self, composition: Composition, evidence: Evidence | None, level: str) -> Composition:
        if level == "emergency":
            return self.emergency(composition, evidence)
        if level == "urgent" and not composition.abstained:
            return self.urgent(composition, evidence)
        return composition

    def emergency(self, composition: Composition, evidence: Evidence | None) -> Composition:
        units = [] if composition.abstained else [u for u in units_of(composition) if self.roles.urgent_help(u.text)]
        if not units and evidence is not None:
            units = _from_evidence(evidence, _ranked(evidence, self.roles.urgent_help, EMERGENCY_REACH)[:1])
        if not units:
            return Composition(self.emergency_body, (), abstained=False, relevance=composition.relevance,
                               answerer="safety")
        hits = evidence.hits if evidence is not None else ()
        return replace(assemble(units, hits, composition.relevance, composition.answerer), answerer="safety")

    def _sends_to_help(self, text: str, phase: str | None = None) -> bool:
        """Sends the reader to a professional, standing alone, and not about the other phase."""
        return ("help" in self.roles.of(text) and not self.roles.refers_back(text)
                and (phase is None or self.roles.phase_of(text) in (None, phase)))

    def urgent(self, composition: Composition, evidence: Evidence | None) -> Composition:
        units = []
        for unit in units_of(composition):
            roles = self.roles.of(unit.text)
            if "waiting" in roles and "help" not in roles:
                continue  # "it should resolve in a few days" is not said about a red flag
            units.append(unit)
        phase = evidence.reading.phase if evidence is not None else None
        first = next((u for u in units if self._sends_to_help(u.text, phase)), None)
        if first is None and evidence is not None:
            found = _from_evidence(evidence, _ranked(evidence, lambda text: self._sends_to_help(text, phase))[:1])
            first = found[0] if found else None
        if first is not None:
            units = [first, *(u for u in units if u.text != first.text)]
        if not units:
            return composition
        hits = evidence.hits if evidence is not None else ()
        return assemble(units, hits, composition.relevance, composition.answerer)
