"""Answerers: turn retrieved passages into a short answer with [n] citations.

The default ``ExtractiveAnswerer`` never writes a word of its own: every
sentence of its answer is a sentence of a cited passage, copied verbatim.
The sentence closest to the question comes first; more follow, by maximal
marginal relevance (so three near-identical sentences from a repetitive article
do not crowd out the one that adds something), only while they score near the
best one. What each sentence does (assistant.answering.roles) decides which may stand
alone. The records it shares with every answerer are in assistant.answering.base.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assistant.answering.base import Answerer, Composition, Evidence, Unit, assemble, usable
from assistant.answering.roles import Roles, bundled_roles, names_in
from assistant.config import Settings
from assistant.retrieval.retrievers import query_terms
from assistant.text import fold

DEFAULTS = Settings()  # the one source of the defaults (data/tuning.toml)


@dataclass(frozen=True)
class Preferences:
    """How sentences are weighed beyond their closeness to the question (data/tuning.toml [compose]):
    what a sentence loses for a name the question does not use, for telling a story, and for
    being about the other phase of treatment; and how relevant a lead-in must be."""

    name: float = 0.0
    story: float = 0.0
    phase: float = 0.0
    # A sentence that leans on the one before it is quoted after it when that one scores
    # within this much of the best sentence.
    lead_in: float = 0.3

    @classmethod
    def tuned(cls) -> Preferences:
        from assistant.config import tuning

        return cls(**tuning().get("compose", {}))


@lru_cache(maxsize=65536)
def term_set(sentence: str) -> frozenset[str]:
    """A source sentence's content words (the same sentences come back question after question)."""
    return frozenset(query_terms(sentence))


class ExtractiveAnswerer(Answerer):
    """Quote the sentences of the retrieved passages that answer the question, best first.

    The best sentence comes first. Further sentences follow, by maximal marginal
    relevance, while they score within ``spread`` of the best, up to ``single``
    sentences, or ``max_sentences`` when the question asks for a list
    (``evidence.reading``). A sentence that leans on the one before it ("This can
    result in…") comes only right after that one, when that one is relevant too;
    a sentence that promises text it lacks ("…several factors.") never comes.
    Sentences naming a place or brand the question does not, telling a story, or
    about the other phase of treatment lose ``preferences``' weights.
    ``threshold`` is the minimum cosine similarity of the best sentence (the
    pipeline sets none: the scope decision comes first). A sentence at least
    ``repeated_sentence`` close (cosine) to one already chosen says the same
    again and is left out. (Whole passages that repeat each other are merged
    before any answerer sees them: ``Settings.duplicate_passages``.)
    """

    name = "extractive"

    def __init__(self, threshold: float = 0.0, max_sentences: int = DEFAULTS.max_sentences,
                 diversity: float = DEFAULTS.diversity, repeated_sentence: float = 0.9,
                 spread: float = DEFAULTS.sentence_spread, single: int | None = DEFAULTS.single_sentences,
                 list_spread: float | None = DEFAULTS.list_spread, preferences: Preferences | None = None,
                 roles: Roles | None = None) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.diversity = diversity
        self.repeated_sentence = repeated_sentence
        self.spread = spread
        self.single = max_sentences if single is None else single
        self.list_spread = spread if list_spread is None else list_spread
        self.preferences = preferences or Preferences()
        self.roles = roles or bundled_roles()

    @classmethod
    def from_settings(cls, settings: Settings) -> ExtractiveAnswerer:
        """The product's answerer. It sets no relevance floor of its own: whether the sources
        answer at all is the scope decision, taken before any answerer is asked."""
        return cls(0.0, settings.max_sentences, diversity=settings.diversity, spread=settings.sentence_spread,
                   single=settings.single_sentences, list_spread=settings.list_spread,
                   preferences=Preferences.tuned())

    def score(self, evidence: Evidence) -> np.ndarray:
        if not evidence.candidates:
            return np.zeros(0, dtype=np.float32)
        matrix = np.stack([c.vector for c in evidence.candidates])
        dense = matrix @ evidence.query_vector
        terms = set(query_terms(evidence.question))
        lexical = np.array(
            [len(terms & term_set(c.text)) / (len(terms) or 1) for c in evidence.candidates],
            dtype=np.float32,
        )
        rank_prior = np.array([0.02 * (1.0 / (1 + c.hit_rank)) for c in evidence.candidates], dtype=np.float32)
        return dense + 0.15 * lexical + rank_prior - self._penalties(evidence)

    def _penalties(self, evidence: Evidence) -> np.ndarray:
        prefs, reading = self.preferences, evidence.reading
        out = np.zeros(len(evidence.candidates), dtype=np.float32)
        for i, cand in enumerate(evidence.candidates):
            roles = self.roles.of(cand.text)
            if any(not reading.names(name) for name in names_in(cand.text)):
                out[i] += prefs.name
            if "story" in roles:
                out[i] += prefs.story
            phase = self.roles.phase_of(cand.text)
            if reading.phase is not None and phase is not None and phase != reading.phase:
                out[i] += prefs.phase
        return out

    def compose(self, evidence: Evidence) -> Composition:
        usable_idx = [i for i, c in enumerate(evidence.candidates)
                      if usable(c.text) and not self.roles.leads_on(c.text)]
        if not usable_idx:
            return Composition("", (), abstained=True, relevance=0.0)
        dense = np.stack([c.vector for c in evidence.candidates]) @ evidence.query_vector
        relevance = float(max(dense[i] for i in usable_idx))
        if relevance < self.threshold:
            return Composition("", (), abstained=True, relevance=relevance)
        chosen = self._select(evidence, usable_idx)
        if not chosen:  # every relevant sentence leans on one that is not: nothing stands alone
            return Composition("", (), abstained=True, relevance=relevance)
        units = [Unit(evidence.candidates[i].text, (evidence.candidates[i].chunk.chunk_id,),
                      (evidence.candidates[i].text,)) for i in chosen]
        return assemble(units, evidence.hits, relevance, self.name)

    def _groups(self, evidence: Evidence, pool: list[int], scores: np.ndarray, floor: float) -> list[tuple[int, ...]]:
        """Each usable sentence as a group to quote: alone, or after the sentence it leans on
        (when that one scores at least ``floor``); one that leans on nothing usable is left out."""
        at = {(c.chunk.chunk_id, c.position): i for i, c in enumerate(evidence.candidates)}
        allowed = set(pool)
        groups = []
        for i in pool:
            cand = evidence.candidates[i]
            if not self.roles.leans_on(cand.text, evidence.reading):
                groups.append((i,))
                continue
            before = at.get((cand.chunk.chunk_id, cand.position - 1))
            if (before is not None and before in allowed and scores[before] >= floor
                    and not self.roles.leans_on(evidence.candidates[before].text, evidence.reading)):
                groups.append((before, i))
        return groups

    def _select(self, evidence: Evidence, pool: list[int]) -> list[int]:
        scores = self.score(evidence)
        wants_list = evidence.reading.wants_list
        spread = self.list_spread if wants_list else self.spread
        budget = self.max_sentences if wants_list else self.single
        best = max(scores[i] for i in pool)
        groups = self._groups(evidence, pool, scores, best - self.preferences.lead_in)
        if not groups:
            return []
        def lead(group: tuple[int, ...]) -> float:
            return float(scores[group[-1]])  # a group scores as the sentence it is there for

        top = max(lead(g) for g in groups)
        groups = [g for g in groups if lead(g) >= top - spread]
        chosen: list[int] = []
        seen_text: set[str] = set()
        vectors = [c.vector for c in evidence.candidates]
        while groups and len(chosen) < budget:
            def mmr(g: tuple[int, ...]) -> float:
                redundancy = max((float(vectors[g[-1]] @ vectors[j]) for j in chosen), default=0.0)
                return (1 - self.diversity) * lead(g) - self.diversity * redundancy

            pick = max(groups, key=lambda g: (mmr(g), -g[-1]))
            groups.remove(pick)
            fresh = [i for i in pick if i not in chosen]
            if len(chosen) + len(fresh) > budget or not fresh:
                continue
            main = evidence.candidates[pick[-1]]
            key = fold(main.text)
            too_close = any(float(main.vector @ vectors[j]) >= self.repeated_sentence for j in chosen)
            if key in seen_text or too_close:
                continue
            seen_text.update(fold(evidence.candidates[i].text) for i in fresh)
            chosen += fresh
        return chosen
