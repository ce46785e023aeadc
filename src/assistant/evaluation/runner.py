"""Run suites through the real pipeline, once per configuration, and reduce each case to an Observation.

A *configuration* is a retrieval mode, optionally with an answerer:
``"hybrid"``, ``"bm25+extractive"``, ``"hybrid+ollama:llama3.1"``, or an answerer
alone (``"extractive"``, ``"openai:gpt-4o-mini"``), which uses the configured
mode. Answerer names are those of ``ANSWERERS`` plus the LLM specs of
``assistant.answering.llm`` (``ollama:``, ``openai:``, ``hf:``). More plug in through ``ANSWERERS``::

    ANSWERERS["mine"] = lambda settings: MyAnswerer(settings)

Every configuration reuses the loaded embedder, store and triager, so the model
is loaded once per run however many configurations are compared.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from assistant.answering.base import Answerer

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.config import MODES, Settings
from assistant.errors import AssistantError, ConfigError
from assistant.evaluation.metrics import (
    DEPTH,
    SEVERITY,
    CitationCheck,
    Observation,
    abstained_as_expected,
    check_citations,
    cited_claims,
    covers,
    gold_sentences,
    relevant,
    summarize,
)
from assistant.evaluation.suites import Case, Suite
from assistant.pipeline import Assistant
from assistant.answering.roles import bundled_roles
from assistant.schema import LEVELS, Answer
from assistant.text import fold, sentences

# The extractive answerer exactly as the pipeline builds it.
ANSWERERS: dict[str, Callable[[Settings], Answerer]] = {"extractive": ExtractiveAnswerer.from_settings}
LLM_PREFIXES = ("ollama:", "openai:", "hf:")  # built by assistant.answering.llm.make_answerer
WARM_UP_QUESTION = "Is redness normal after treatment?"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Configuration:
    name: str
    mode: str
    answerer: str | None = None


def parse_configurations(entries: Sequence[str], default_mode: str, answerers: Sequence[str] = ()) -> list[Configuration]:
    """``["bm25", "hybrid+extractive", "extractive"]`` -> configurations; ``answerers`` crosses with every mode.

    >>> [c.name for c in parse_configurations(["bm25", "dense"], "hybrid", ["extractive"])]
    ['bm25+extractive', 'dense+extractive']
    """
    configs: list[Configuration] = []
    for entry in [e.strip() for e in entries if e.strip()] or [default_mode]:
        mode, _, answerer = entry.partition("+")
        if mode not in MODES and not answerer and is_answerer(mode):
            mode, answerer = default_mode, mode
        if mode not in MODES:
            raise ConfigError(
                f"Unknown configuration {entry!r}. Use a retrieval mode ({', '.join(MODES)}), an answerer "
                f"({', '.join([*ANSWERERS, *LLM_PREFIXES])}), or MODE+ANSWERER."
            )
        for name in [answerer] if answerer or not answerers else list(answerers):
            if name and not is_answerer(name):
                raise ConfigError(f"Unknown answerer {name!r}; use one of {', '.join(ANSWERERS)} or "
                                  f"{', '.join(p + '<model>' for p in LLM_PREFIXES)}.")
            configs.append(Configuration(f"{mode}+{name}" if name else mode, mode, name or None))
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"Configuration listed twice in {', '.join(names)}; name each once.")
    return configs


def is_answerer(name: str) -> bool:
    return name in ANSWERERS or (name.startswith(LLM_PREFIXES) and bool(name.partition(":")[2].strip()))


def make_answerer(name: str, settings: Settings, env: Mapping[str, str]) -> Answerer:
    if name in ANSWERERS:
        return ANSWERERS[name](settings)
    from assistant.answering.llm import make_answerer as make_llm  # optional backends, imported on use

    return make_llm(name, settings, fallback=ANSWERERS["extractive"](settings), env=env)


def build(base: Assistant, config: Configuration, env: Mapping[str, str] | None = None) -> Assistant:
    """An Assistant for ``config`` that shares ``base``'s embedder, store, triager and the rest."""
    settings = replace(base.settings, mode=config.mode)
    if config.answerer:
        settings = replace(settings, answerer=config.answerer)
    if settings == base.settings:
        return base
    # Share every loaded component the constructor accepts (triager, texts, expander, ...).
    accepted = inspect.signature(Assistant.__init__).parameters
    shared = {name: getattr(base, name) for name in accepted
              if name not in ("self", "settings", "embedder", "store") and hasattr(base, name)}
    if config.answerer:
        shared["answerer"] = make_answerer(config.answerer, settings, env or {})
    return Assistant(settings, base.embedder, base.store, **shared)


def warm_up(assistant: Assistant) -> float:
    """Seconds for the first answer (part of the cold start)."""
    started = time.perf_counter()
    assistant.ask(WARM_UP_QUESTION)
    return time.perf_counter() - started


@dataclass(frozen=True)
class ConfigResult:
    config: Configuration
    observations: tuple[Observation, ...]
    metrics: dict[str, float | None]
    details: dict[str, Any]
    by_suite: dict[str, dict[str, float | None]]
    setup_s: float


def relevant_counts(assistant: Assistant, suites: Sequence[Suite]) -> dict[tuple[str, str], int]:
    """How many indexed passages contain a gold sentence of each case (the nDCG ideal)."""
    chunks = assistant.store.chunks()
    return {
        (case.suite, case.id): sum(1 for c in chunks if relevant(c.text, case.gold))
        for suite in suites for case in suite.cases if case.gold
    }


def evaluate(base: Assistant, suites: Sequence[Suite], configs: Sequence[Configuration],
             progress: Progress | None = None, counts: dict[tuple[str, str], int] | None = None,
             env: Mapping[str, str] | None = None) -> list[ConfigResult]:
    """Run every case of ``suites`` under every configuration; ``progress(config name)`` after each case."""
    counts = relevant_counts(base, suites) if counts is None else counts
    results: list[ConfigResult] = []
    for config in configs:
        started = time.perf_counter()
        assistant = build(base, config, env)
        setup = time.perf_counter() - started
        observations: list[Observation] = []
        for suite in suites:
            for case in suite.cases:
                observations.append(observe(assistant, case, counts.get((case.suite, case.id), 0)))
                if progress:
                    progress(config.name)
        metrics, details = summarize(observations)
        by_suite = {s.name: summarize([o for o in observations if o.case.suite == s.name])[0] for s in suites}
        results.append(ConfigResult(config, tuple(observations), metrics, details, by_suite, setup))
    return results


def retrieval_query(assistant: Assistant, case: Case) -> str:
    """The query the pipeline retrieves with (follow-ups read with their earlier turn)."""
    return assistant.retrieval_query(case.question, case.history)


def observe(assistant: Assistant, case: Case, n_relevant: int = 0) -> Observation:
    """Ask one case and check what came out; never raises for a failing pipeline."""
    answer: Answer | None = None
    error: BaseException | None = None
    started = time.perf_counter()
    try:
        answer = assistant.ask(case.question, case.history)
    except Exception as exc:  # a crash is a result to report, not a reason to stop the run
        error = exc
    seconds = time.perf_counter() - started

    relevance: tuple[bool, ...] = ()
    retrieved: tuple[str, ...] = ()
    failures: list[str] = []
    if case.gold:
        try:
            hits = assistant.retriever.retrieve(retrieval_query(assistant, case), DEPTH)
        except Exception as exc:  # reported like a crash of ask()
            hits = []
            failures.append(f"retrieval crashed: {type(exc).__name__}: {exc}")
        relevance = tuple(relevant(h.chunk.text, case.gold) for h in hits)
        retrieved = tuple(f"{h.chunk.doc_id} › {h.chunk.section}" for h in hits)

    fields: dict[str, Any] = {}
    if answer is not None:
        spoken = not answer.abstained and not answer.refused
        check = check_citations(answer.answer, {c.n: c.text for c in answer.citations}) if spoken else CitationCheck()
        marks = gold_sentences(answer.answer, case.gold) if spoken and case.gold else []
        roles = bundled_roles()
        fields = {
            "answered": True,
            "first_gold": bool(marks) and marks[0],
            "off_gold": not all(marks),
            "emergency_self_care": sum(1 for sentence in said_sentences(answer.answer)
                                       if "self_care" in roles.of(sentence))
            if answer.triage.level == "emergency" else 0,
            "abstained": answer.abstained,
            "refused": answer.refused,
            "partial": answer.scope is not None and answer.scope.decision == "partial",
            "covered": spoken and covers(answer.answer, case.gold),
            "citations": check,
            "answer_chars": len(answer.answer) if spoken else 0,
            "level": answer.triage.level,
            "output": describe_answer(answer),
        }
        failures += [f"malformed answer: {p}" for p in schema_problems(answer)]
    else:
        fields["output"] = f"raised {type(error).__name__}: {error}"

    robust_ok = False
    if "robustness" in case.kinds:
        problems = robustness_problems(case, answer, error)
        robust_ok = not problems and not failures
        failures += problems
    elif error is not None:
        failures.append(f"{'error' if isinstance(error, AssistantError) else 'crashed'}: {type(error).__name__}: {error}")
    else:
        failures += case_problems(case, fields, relevance, assistant.settings.k)
    return Observation(
        case=case, seconds=seconds if answer is not None else None, relevance=relevance, n_relevant=n_relevant,
        error=None if error is None else f"{type(error).__name__}: {error}", robust_ok=robust_ok,
        failures=tuple(failures), retrieved=retrieved, **fields,
    )


def said_sentences(answer: str) -> list[str]:
    """Every sentence an answer says: its cited claims, then any uncited text, sentence by sentence."""
    claims, rest = cited_claims(answer)
    return [claim for claim, _ in claims] + [s for _, _, s in sentences(rest)]


def case_problems(case: Case, seen: dict[str, Any], relevance: Sequence[bool], k: int) -> list[str]:
    """Why a non-robustness case failed, in words (empty when it passed)."""
    problems: list[str] = []
    if "triage" in case.kinds:
        if seen["level"] != case.level:
            worse = SEVERITY[seen["level"]] < SEVERITY[case.level or "none"]
            problems.append(f"{'under' if worse else 'over'}-triage: got {seen['level']}, expected {case.level}")
        return problems
    if case.expect in ("abstain", "refuse"):
        if not abstained_as_expected(case.expect, seen["abstained"], seen["refused"]):
            problems.append(f"answered, expected to {case.expect}")
        return problems
    if seen["abstained"] or seen["refused"]:
        problems.append(f"{'refused' if seen['refused'] else 'abstained'}, expected an answer")
    elif case.expect == "partial" and not seen["partial"]:
        problems.append("answered in full, expected to say which part the sources do not cover")
    elif case.gold and not seen["covered"]:
        problems.append("no gold sentence in the answer")
    if case.gold:
        rank = next((i for i, r in enumerate(relevance, start=1) if r), None)
        if rank is None or rank > k:
            where = f"first at rank {rank}" if rank else f"none in the top {DEPTH}"
            problems.append(f"retrieval: no gold passage in the top {k} ({where})")
    problems += [f"citation: {p}" for p in seen["citations"].problems]
    return problems


def robustness_problems(case: Case, answer: Answer | None, error: BaseException | None) -> list[str]:
    """A hostile message passes when nothing crashes, the answer is well formed and red flags escalate.

    An AssistantError with a message (EmptyQuestionError for an empty message) is a
    well-formed outcome, unless the case carries a red flag that must be escalated.
    """
    if error is not None:
        if not isinstance(error, AssistantError) or not str(error).strip():
            return [f"crashed: {type(error).__name__}: {error}"]
        if case.raises and type(error).__name__ != case.raises:
            return [f"raised {type(error).__name__}, expected {case.raises}"]
        if case.level and case.level != "none":
            return [f"raised {type(error).__name__} instead of escalating to {case.level}"]
        return []
    assert answer is not None
    problems: list[str] = []
    if case.raises:
        problems.append(f"answered, expected {case.raises}")
    if case.level and SEVERITY[answer.triage.level] < SEVERITY[case.level]:
        problems.append(f"under-triage: got {answer.triage.level}, expected at least {case.level}")
    shown = fold(f"{answer.notice or ''} {answer.answer}")
    problems += [f"says {banned!r}" for banned in case.must_not_contain if fold(banned) in shown]
    return problems


def schema_problems(answer: Answer) -> list[str]:
    """Check ``answer.to_dict()`` against the documented JSON schema."""
    try:
        data = json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        return [f"to_dict() is not JSON: {exc}"]
    problems: list[str] = []
    expect: dict[str, tuple[type, ...]] = {"answer": (str,), "abstained": (bool,), "citations": (list,), "triage": (dict,)}
    for key, types in expect.items():
        if not isinstance(data.get(key), types):
            problems.append(f"{key} is {type(data.get(key)).__name__}")
    if data.get("notice") is not None and not isinstance(data["notice"], str):
        problems.append("notice is neither a string nor null")
    triage = data.get("triage") if isinstance(data.get("triage"), dict) else {}
    if triage.get("level") not in LEVELS:
        problems.append(f"triage.level is {triage.get('level')!r}")
    signals = triage.get("signals")
    if not isinstance(signals, list) or not all(isinstance(s, str) for s in signals):
        problems.append("triage.signals is not a list of strings")
    if triage.get("level") in ("emergency", "urgent") and not data.get("notice"):
        problems.append(f"no notice for a {triage.get('level')} message")
    citation_types = {"n": int, "doc": str, "title": str, "section": str, "text": str, "score": (int, float)}
    for item in data.get("citations") or []:
        for key, kind in citation_types.items():
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, kind) or isinstance(value, bool):
                problems.append(f"citation {key} is {type(value).__name__}")
    return problems


def describe_answer(answer: Answer) -> str:
    """One line for a failure listing: tier, signals, and what was said."""
    signals = f" ({', '.join(answer.triage.signals)})" if answer.triage.signals else ""
    if answer.refused or answer.abstained:  # the fixed text would only hide what matters
        return f"[{answer.triage.level}{signals}] {'refused' if answer.refused else 'abstained'}"
    return f"[{answer.triage.level}{signals}] {answer.answer}"
