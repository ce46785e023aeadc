"""The escalation tier shapes the answer's body, whatever the answerer wrote.

This is part of the fixed safety layer: it runs after every answerer, extractive
or LLM, on the sentence roles of data/answers.yaml (assistant.answering.roles).

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

from assistant.answering.base import Composition, Evidence, Unit, assemble, units_of, usable
from assistant.answering.roles import Reading, Roles


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
        reading = evidence.reading if evidence is not None else Reading()

        def keep(text: str) -> bool:
            return self.roles.urgent_help(text) and not self.roles.leans_on(text, reading)

        units = [] if composition.abstained else [u for u in units_of(composition) if keep(u.text)]
        if not units and evidence is not None:
            units = _from_evidence(evidence, _ranked(evidence, keep, EMERGENCY_REACH)[:1])
        if not units:
            # Fixed text, not a quote: like an abstention it cites nothing and answers from no source.
            return Composition(self.emergency_body, (), abstained=True, relevance=composition.relevance,
                               answerer="safety")
        hits = evidence.hits if evidence is not None else ()
        return replace(assemble(units, hits, composition.relevance, composition.answerer), answerer="safety")

    def _sends_to_help(self, text: str, reading: Reading) -> bool:
        """Sends the reader to a professional, standing alone, and not about the other phase."""
        return ("help" in self.roles.of(text) and not self.roles.leans_on(text, reading)
                and (reading.phase is None or self.roles.phase_of(text) in (None, reading.phase)))

    def urgent(self, composition: Composition, evidence: Evidence | None) -> Composition:
        reading = evidence.reading if evidence is not None else Reading()
        said = units_of(composition)
        after = {id(b): a.text for a, b in zip(said, said[1:])}  # what each sentence followed
        units = []
        for unit in said:
            roles = self.roles.of(unit.text)
            if "waiting" in roles and "help" not in roles:
                continue  # "it should resolve in a few days" is not said about a red flag
            units.append(unit)
        at = next((i for i, u in enumerate(units) if self._sends_to_help(u.text, reading)), None)
        if at is None and evidence is not None:
            found = _from_evidence(evidence, _ranked(evidence, lambda text: self._sends_to_help(text, reading))[:1])
            units = found + [u for u in units if not found or u.text != found[0].text]
        elif at is not None:
            end = at + 1  # the sentences that lean on it move with it
            while end < len(units) and self.roles.leans_on(units[end].text, reading):
                end += 1
            units = units[at:end] + units[:at] + units[end:]
        # A sentence that leans on another stays only right after the one it followed.
        units = [u for i, u in enumerate(units) if not self.roles.leans_on(u.text, reading)
                 or (i > 0 and after.get(id(u)) == units[i - 1].text)]
        if not units:
            return composition
        hits = evidence.hits if evidence is not None else ()
        return assemble(units, hits, composition.relevance, composition.answerer)
