"""Stage 4, answering: the Answerer protocol (``compose(evidence) -> Composition``), the
extractive composition (the default: every sentence quoted from a cited passage), LLM
answerers (``answering.llm``, imported only when configured), and the grounding check."""

from __future__ import annotations

from assistant.answering.base import Answerer, Candidate, Composition, Evidence, Unit, assemble, citation, units_of
from assistant.answering.extractive import ExtractiveAnswerer, Preferences

__all__ = ["Answerer", "Candidate", "Composition", "Evidence", "ExtractiveAnswerer", "Preferences", "Unit", "assemble", "citation", "units_of"]
