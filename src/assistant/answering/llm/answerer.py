"""``LLMAnswerer``: a chat model phrases the answer from the numbered passages; the
grounding check decides which of its sentences survive, and the extractive answer is
the fallback. ``AnswerStream`` gives the grounded sentences as the model writes them.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.answering import markers
from assistant.answering.base import Answerer, Composition, Evidence, citation
from assistant.answering.grounding import (
    MIN_KEPT,
    SUPPORT_THRESHOLD,
    GroundingReport,
    Kept,
    best_sentence,
    check,
    content_terms,
    judge,
    split_cited,
)
from assistant.answering.llm.deadline import call_with_deadline, describe, stream_with_deadline, text_of
from assistant.safety.notices import SafetyTexts, default_texts
from assistant.schema import Citation
from assistant.text import fold, sentences

__all__ = ["DEFAULT_TIMEOUT_S", "FALLBACK", "AnswerStream", "LLMAnswerer", "LLMResult", "highlights"]

DEFAULT_TIMEOUT_S = 30.0
FALLBACK = "extractive-fallback"
# The system prompt tells the model to say exactly this when the passages do not answer.
MODEL_ABSTENTION = "my sources do not cover this"



@dataclass(frozen=True)
class LLMResult:
    """One generated answer: what is kept, the model's raw text, and why anything was dropped.

    ``note`` says why the fallback or an abstention was used (None when the
    model's grounded answer is shown).
    """

    composition: Composition
    grounding: GroundingReport | None
    note: str | None
    output: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "answerer": self.composition.answerer,
            "note": self.note,
            "grounding": self.grounding.to_dict() if self.grounding else None,
            "seconds": round(self.seconds, 3),
        }


class LLMAnswerer(Answerer):
    """Answer with a langchain chat model, keeping only what the passages support.

    ``timeout_s`` bounds the whole call (a worker thread is abandoned after it);
    ``support_threshold`` and ``min_kept`` are the grounding check's settings.
    ``system_prompt_version`` and ``system_prompt_hash`` identify the prompt used.
    Every composition it returns carries, in ``extra``, the prompt's version and
    hash and the grounding report (``LLMResult.to_dict``).
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        fallback: Answerer,
        *,
        name: str = "llm",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        support_threshold: float = SUPPORT_THRESHOLD,
        min_kept: float = MIN_KEPT,
        max_sentences: int = 5,
        texts: SafetyTexts | None = None,
    ) -> None:
        self.chat_model = chat_model
        self.fallback = fallback
        self.name = name
        self.timeout_s = timeout_s
        self.support_threshold = support_threshold
        self.min_kept = min_kept
        self.max_sentences = max_sentences
        texts = texts or default_texts()
        self.system_prompt = texts.system_prompt
        self.system_prompt_version = texts.system_prompt_version
        self.system_prompt_hash = texts.system_prompt_hash

    def messages(self, evidence: Evidence) -> list[BaseMessage]:
        passages = "\n\n".join(
            f"[{i}] {hit.chunk.title} — {hit.chunk.section}\n{hit.chunk.text}" for i, hit in enumerate(evidence.hits, 1)
        )
        prompt = (
            f"Passages:\n\n{passages}\n\nQuestion: {evidence.question}\n\n"
            f"Answer using only the passages above, in at most {self.max_sentences} short sentences. "
            "End every sentence with the number of the passage it comes from, like [1]."
        )
        return [SystemMessage(self.system_prompt), HumanMessage(prompt)]

    def compose(self, evidence: Evidence) -> Composition:
        return self.run(evidence).composition

    def run(self, evidence: Evidence) -> LLMResult:
        """Generate, check and compose; never raises for a model failure."""
        started = time.monotonic()
        base = self.fallback.compose(evidence)
        if base.abstained or not evidence.hits:
            return self._reported(_not_asked(base))
        try:
            output = call_with_deadline(lambda: text_of(self.chat_model.invoke(self.messages(evidence))),
                                        self.timeout_s)
        except Exception as exc:  # any backend failure, by design: the extractive answer is always there
            return self._reported(_fallback(base, f"model failed: {describe(exc)}", started=started))
        return self._reported(self._finish(evidence, base, output, started))

    def stream(self, evidence: Evidence) -> AnswerStream:
        """Grounded sentences as the model completes them; see ``AnswerStream``."""
        return AnswerStream(self._deltas(evidence))

    def _deltas(self, evidence: Evidence) -> Generator[str, None, LLMResult]:
        """Yield each sentence once it passes the grounding check; return the final result."""
        started = time.monotonic()
        base = self.fallback.compose(evidence)
        if base.abstained or not evidence.hits:
            return self._reported(_not_asked(base))
        passages = [hit.chunk.text for hit in evidence.hits]
        renderer = _Renderer(evidence)
        output, emitted = "", 0
        try:
            for delta in stream_with_deadline(self.chat_model, self.messages(evidence), self.timeout_s):
                output += delta
                complete = split_cited(output)[:-1]  # the last sentence may still be growing
                for sentence in complete[emitted:]:
                    verdict = judge(sentence, passages, self.support_threshold)
                    if isinstance(verdict, Kept):
                        yield (" " if renderer.numbers else "") + renderer.add(verdict)
                emitted = len(complete)
        except Exception as exc:  # any backend failure: the extractive answer is always there
            return self._reported(_fallback(base, f"model failed: {describe(exc)}", output=output, started=started))
        result = self._finish(evidence, base, output, started)
        if result.grounding and result.grounding.passed:
            for sentence in split_cited(output)[emitted:]:  # the last sentence, now complete
                verdict = judge(sentence, passages, self.support_threshold)
                if isinstance(verdict, Kept):
                    yield (" " if renderer.numbers else "") + renderer.add(verdict)
        return self._reported(result)

    def _reported(self, result: LLMResult) -> LLMResult:
        """The result, its composition carrying the prompt and the grounding report with it."""
        extra = {"system_prompt_hash": self.system_prompt_hash, "system_prompt_version": self.system_prompt_version,
                 "grounding": result.to_dict()}
        return replace(result, composition=replace(result.composition, extra=extra))

    def _finish(self, evidence: Evidence, base: Composition, output: str, started: float) -> LLMResult:
        if not output.strip():
            return _fallback(base, "model returned no text", started=started)
        passages = [hit.chunk.text for hit in evidence.hits]
        report = check(output, passages, self.support_threshold, self.min_kept)
        if not report.kept and MODEL_ABSTENTION in fold(output):
            abstained = Composition("", (), abstained=True, relevance=base.relevance, answerer=self.name)
            return LLMResult(abstained, report, "model said its sources do not cover the question", output,
                             time.monotonic() - started)
        if not report.passed:
            note = f"{len(report.kept)} of {report.total} sentences passed the grounding check"
            return _fallback(base, note, report, output, started)
        renderer = _Renderer(evidence)
        answer = " ".join(renderer.add(kept) for kept in report.kept)
        composition = Composition(answer, renderer.citations(), abstained=False, relevance=base.relevance,
                                  answerer=self.name)
        return LLMResult(composition, report, None, output, time.monotonic() - started)


def _not_asked(base: Composition) -> LLMResult:
    # The calibrated relevance gate stays in charge: off-topic questions never reach the model.
    return LLMResult(base, None, "sources do not cover the question; model not asked")


def _fallback(base: Composition, note: str, report: GroundingReport | None = None, output: str = "",
              started: float | None = None) -> LLMResult:
    seconds = time.monotonic() - started if started is not None else 0.0
    return LLMResult(replace(base, answerer=FALLBACK), report, note, output, seconds)


class _Renderer:
    """Renumber cited passages 1..m in order of first use and rebuild the answer text."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.numbers: dict[int, int] = {}  # passage number shown to the model -> number shown to the user
        self.claims: dict[int, list[str]] = {}

    def add(self, kept: Kept) -> str:
        body = markers.strip(kept.text)
        shown = [self.numbers.setdefault(n, len(self.numbers) + 1) for n in kept.cites]
        for n in kept.cites:
            self.claims.setdefault(n, []).append(body)
        return body + " " + markers.write(shown)

    def citations(self) -> tuple[Citation, ...]:
        out = []
        for old, new in sorted(self.numbers.items(), key=lambda kv: kv[1]):
            hit = self.evidence.hits[old - 1]
            out.append(citation(new, hit.chunk, hit.score, highlights(hit.chunk.text, self.claims[old])))
        return tuple(out)


def highlights(passage: str, claims: list[str]) -> list[str]:
    """The passage sentences that best support ``claims``, in passage order (for the UI to highlight)."""
    chosen = {best_sentence(claim, passage) for claim in claims}
    return [s for _, _, s in sentences(passage) if s in chosen and content_terms(s)]


class AnswerStream:
    """Iterate for text deltas; afterwards ``composition`` is the grounded answer to keep.

    Each delta is one sentence that has already passed the grounding check
    (renumbered as in the final answer), so ungrounded text never reaches the
    screen, not even for a moment. When the final check fails, or the model
    fails mid-way, ``composition`` is the extractive fallback and the UI should
    replace what it showed. Reading ``composition`` before the end drains the stream.

    >>> s = answerer.stream(evidence)     # doctest: +SKIP
    >>> for delta in s: show(delta)       # doctest: +SKIP
    >>> keep(s.composition)               # doctest: +SKIP
    """

    def __init__(self, deltas: Generator[str, None, LLMResult]) -> None:
        self.result: LLMResult | None = None
        self._deltas = deltas

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._deltas)
        except StopIteration as end:
            if self.result is None:  # the generator's return value; later calls return None
                self.result = end.value
            raise

    @property
    def composition(self) -> Composition:
        for _ in self:
            pass
        assert self.result is not None
        return self.result.composition
