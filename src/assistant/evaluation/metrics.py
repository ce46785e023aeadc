"""Metrics: pure functions over plain values, then ``summarize`` over a run's observations.

Every metric is a number in a flat dict keyed ``"group.name"`` (``"retrieval.recall@5"``),
or ``None`` when nothing was measured (no case of that kind in the selection).
That flat dict is what thresholds gate on and what ``--against`` compares.

>>> recall_at_k([1, 3, None], 1)
0.3333333333333333
>>> mean_reciprocal_rank([1, 2, None])
0.5
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.answering import markers
from assistant.evaluation.suites import IN_SCOPE, Case
from assistant.schema import LEVELS
from assistant.text import contains_sentence, sentences

RECALL_KS = (1, 3, 5, 10)
DEPTH = 10  # passages retrieved per case for the retrieval metrics
SEVERITY = {"none": 0, "urgent": 1, "emergency": 2}

_TRAILING_PUNCT = re.compile(r"^[.,;:!?]+")


# --- retrieval ---------------------------------------------------------------------------

def first_hit(relevance: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant passage, or None."""
    return next((i for i, rel in enumerate(relevance, start=1) if rel), None)


def recall_at_k(first_ranks: Sequence[int | None], k: int) -> float | None:
    """Share of cases with a relevant passage in the top ``k`` (a case needs only one)."""
    if not first_ranks:
        return None
    return sum(1 for r in first_ranks if r is not None and r <= k) / len(first_ranks)


def mean_reciprocal_rank(first_ranks: Sequence[int | None]) -> float | None:
    if not first_ranks:
        return None
    return sum(1.0 / r for r in first_ranks if r is not None) / len(first_ranks)


def ndcg_at_k(relevance: Sequence[bool], n_relevant: int, k: int = DEPTH) -> float:
    """Binary-relevance nDCG; the ideal ranking puts ``min(n_relevant, k)`` relevant passages first.

    >>> ndcg_at_k([False, True], 1)
    0.6309297535714575
    """
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevance[:k], start=1) if rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(max(n_relevant, 0), k) + 1))
    return dcg / ideal if ideal else 0.0


def relevant(passage: str, gold: Sequence[str]) -> bool:
    """A passage is relevant when it contains a gold sentence (normalised match, survives re-chunking)."""
    return any(contains_sentence(passage, g) for g in gold)


# --- answers -----------------------------------------------------------------------------

def covers(answer: str, gold: Sequence[str]) -> bool:
    """True when the answer quotes at least one gold sentence."""
    return any(contains_sentence(answer, g) for g in gold)


def gold_sentences(answer: str, gold: Sequence[str]) -> list[bool]:
    """For each cited sentence of the answer, whether it is (or contains) a gold sentence.

    >>> gold_sentences("Redness fades in a day. [1] Ice helps. [2]", ["Redness fades in a day."])
    [True, False]
    """
    claims, _ = cited_claims(answer)
    return [any(contains_sentence(claim, g) or contains_sentence(g, claim) for g in gold) for claim, _ in claims]


def cited_claims(answer: str) -> tuple[list[tuple[str, tuple[int, ...]]], str]:
    """Split ``"A. [1] B. [2][3]"`` into ``[("A.", (1,)), ("B.", (2, 3))]`` and the uncited rest.

    subtle: a full stop written after the marker ("A [1].") belongs to the claim before it.

    >>> cited_claims("Redness is normal [1]. Ice helps. [2] See a doctor.")
    ([('Redness is normal.', (1,)), ('Ice helps.', (2,))], 'See a doctor.')
    """
    claims: list[tuple[str, tuple[int, ...]]] = []
    pos = 0
    for match in markers.MARKER_RUN.finditer(answer):
        claim = answer[pos : match.start()].strip()
        numbers = tuple(markers.numbers(match.group()))
        pos = match.end()
        punct = _TRAILING_PUNCT.match(answer[pos:])
        if punct:
            claim += punct.group()
            pos += punct.end()
        if claim:
            claims.append((claim, numbers))
        elif claims:  # "A. [1] [2]" with a space between markers: the same claim
            text, earlier = claims[-1]
            claims[-1] = (text, earlier + numbers)
    return claims, answer[pos:].strip()


@dataclass(frozen=True)
class CitationCheck:
    """How well an answer's ``[n]`` markers are backed by its listed sources."""

    sentences: int = 0
    supported: int = 0
    markers: int = 0
    valid: int = 0
    problems: tuple[str, ...] = ()


def check_citations(answer: str, sources: Mapping[int, str]) -> CitationCheck:
    """Each answer sentence must appear verbatim in a passage it cites; each ``[n]`` must be listed.

    ``sources`` maps a citation number to the full text of the cited passage.

    >>> check_citations("Ice helps. [1] Rest. [2]", {1: "Ice helps. Heat hurts."}).problems
    ('[2] is not a listed source', 'not in the passage it cites: "Rest."')
    """
    claims, uncited = cited_claims(answer)
    total = supported = markers = valid = 0
    problems: list[str] = []
    for claim, numbers in claims:
        markers += len(numbers)
        for n in numbers:
            if n in sources:
                valid += 1
            else:
                problems.append(f"[{n}] is not a listed source")
        for _, _, sentence in sentences(claim):
            total += 1
            if any(n in sources and contains_sentence(sources[n], sentence) for n in numbers):
                supported += 1
            else:
                problems.append(f'not in the passage it cites: "{sentence}"')
    for _, _, sentence in sentences(uncited):
        total += 1
        problems.append(f'no citation: "{sentence}"')
    return CitationCheck(total, supported, markers, valid, tuple(problems))


# --- triage and abstention ---------------------------------------------------------------

def confusion(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{expected: {predicted: count}}`` over LEVELS."""
    table = {e: {p: 0 for p in LEVELS} for e in LEVELS}
    for expected, predicted in pairs:
        table[expected][predicted] += 1
    return table


def triage_scores(pairs: Sequence[tuple[str, str]]) -> dict[str, float | None]:
    """Per-tier recall/precision, under-triage (a red flag given a lower tier), over-triage (none given higher).

    >>> triage_scores([("urgent", "none"), ("none", "none")])["triage.under_triage"]
    1.0
    """
    out: dict[str, float | None] = {}
    for level in LEVELS:
        expected = [p for e, p in pairs if e == level]
        predicted = [e for e, p in pairs if p == level]
        out[f"triage.recall.{level}"] = _share(sum(1 for p in expected if p == level), len(expected))
        out[f"triage.precision.{level}"] = _share(sum(1 for e in predicted if e == level), len(predicted))
    flagged = [(e, p) for e, p in pairs if e != "none"]
    calm = [p for e, p in pairs if e == "none"]
    out["triage.under_triage"] = _share(sum(1 for e, p in flagged if SEVERITY[p] < SEVERITY[e]), len(flagged))
    out["triage.over_triage"] = _share(sum(1 for p in calm if p != "none"), len(calm))
    out["triage.accuracy"] = _share(sum(1 for e, p in pairs if e == p), len(pairs))
    return out


def abstained_as_expected(expect: str, abstained: bool, refused: bool) -> bool:
    """Declined: ``abstain`` and ``refuse`` are each met by abstaining or refusing (the strict
    share of refusals is ``abstention.refusal_rate``)."""
    return refused or abstained


# --- summaries ---------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, ``q`` in 0..100."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Observation:
    """What one case produced under one configuration, reduced to what the metrics need."""

    case: Case
    seconds: float | None = None
    relevance: tuple[bool, ...] = ()
    n_relevant: int = 0
    answered: bool = False  # ask() returned an Answer
    abstained: bool = False
    refused: bool = False
    partial: bool = False  # answered the covered part and said which part is not covered
    covered: bool = False
    # Of the answer's cited sentences: the first is gold; some sentence is not gold ("off").
    first_gold: bool = False
    off_gold: bool = False
    # Answer sentences that advise self-care under an emergency notice (assistant.answering.roles).
    emergency_self_care: int = 0
    citations: CitationCheck = field(default_factory=CitationCheck)
    answer_chars: int = 0
    level: str | None = None
    error: str | None = None
    robust_ok: bool = False
    failures: tuple[str, ...] = ()
    output: str = ""
    retrieved: tuple[str, ...] = ()  # "doc › section" of the top passages, best first

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def first_hit(self) -> int | None:
        return first_hit(self.relevance)


def _answer_group(obs: Sequence[Observation], prefix: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    with_gold = [o for o in obs if o.case.gold]
    ranks = [o.first_hit for o in with_gold]
    retrieval = "retrieval" if prefix == "answers" else prefix
    for k in RECALL_KS:
        out[f"{retrieval}.recall@{k}"] = recall_at_k(ranks, k)
    out[f"{retrieval}.mrr"] = mean_reciprocal_rank(ranks)
    out[f"{retrieval}.ndcg@10"] = _mean([ndcg_at_k(o.relevance, o.n_relevant) for o in with_gold])
    out[f"{prefix}.coverage"] = _share(sum(1 for o in with_gold if o.covered), len(with_gold))
    covered = [o for o in with_gold if o.covered]
    out[f"{prefix}.first_gold"] = _share(sum(1 for o in covered if o.first_gold), len(covered))
    spoken = [o for o in obs if o.answered and not o.abstained and not o.refused]
    spoken_gold = [o for o in spoken if o.case.gold]
    out[f"{prefix}.off_gold"] = _share(sum(1 for o in spoken_gold if o.off_gold), len(spoken_gold))

    sents = sum(o.citations.sentences for o in spoken)
    marks = sum(o.citations.markers for o in spoken)
    out[f"{prefix}.citation_precision"] = _share(sum(o.citations.supported for o in spoken), sents)
    out[f"{prefix}.citation_validity"] = _share(sum(o.citations.valid for o in spoken), marks)
    out[f"{prefix}.sentences_mean"] = _mean([o.citations.sentences for o in spoken])
    out[f"{prefix}.chars_mean"] = _mean([o.answer_chars for o in spoken])
    out[f"{prefix}.chars_max"] = float(max((o.answer_chars for o in spoken), default=0)) if spoken else None
    in_scope = [o for o in obs if o.case.expect in IN_SCOPE]
    group = "abstention" if prefix == "answers" else prefix
    out[f"{group}.false_abstention"] = _share(sum(1 for o in in_scope if o.abstained or o.refused), len(in_scope))
    out[f"{group}.false_refusal"] = _share(sum(1 for o in in_scope if o.refused), len(in_scope))
    two_part = [o for o in obs if o.case.expect == "partial"]
    out[f"{prefix}.partial_recall"] = _share(sum(1 for o in two_part if o.partial), len(two_part))
    return out


def _abstention_group(obs: Sequence[Observation], name: str) -> dict[str, float | None]:
    out_of_scope = [o for o in obs if o.case.expect in ("abstain", "refuse")]
    ok = [abstained_as_expected(o.case.expect or "", o.abstained, o.refused) for o in out_of_scope]
    out: dict[str, float | None] = {name: _share(sum(ok), len(ok))}
    for expect in ("abstain", "refuse"):
        part = [hit for o, hit in zip(out_of_scope, ok) if o.case.expect == expect]
        out[f"{name}_{expect}"] = _share(sum(part), len(part))
    # A request to act (a dose, a note, a diagnosis) must be refused, not merely abstained on.
    requests = [o for o in out_of_scope if o.case.expect == "refuse"]
    out[f"{name.rsplit('.', 1)[0]}.refusal_rate"] = _share(sum(1 for o in requests if o.refused), len(requests))
    return out


def triage_breakdown(observations: Sequence[Observation]) -> dict[str, dict[str, dict[str, int]]]:
    """Triage results per tier, per ``kind`` tag and per ``lang`` tag: cases, exact, under- and over-triaged.

    >>> from assistant.evaluation.suites import Case
    >>> case = Case("t1", "s", ("triage",), "fever", level="urgent", tags=(("lang", "pt"),))
    >>> triage_breakdown([Observation(case=case, level="none")])["lang"]["pt"]
    {'cases': 1, 'exact': 0, 'under': 1, 'over': 0}
    """
    out: dict[str, dict[str, dict[str, int]]] = {"tier": {}, "kind": {}, "lang": {}}
    for o in observations:
        expected, given = o.case.level or "none", o.level or "none"
        labels = {"tier": expected, **dict(o.case.tags)}
        for group, label in labels.items():
            row = out.setdefault(group, {}).setdefault(label, {"cases": 0, "exact": 0, "under": 0, "over": 0})
            row["cases"] += 1
            row["exact"] += expected == given
            row["under"] += SEVERITY[given] < SEVERITY[expected]
            row["over"] += SEVERITY[given] > SEVERITY[expected]
    return {group: dict(sorted(rows.items())) for group, rows in out.items() if rows}


def summarize(observations: Sequence[Observation]) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Flat metrics and structured details (recall curve, confusion matrix) for one configuration."""
    by_kind = {kind: [o for o in observations if kind in o.case.kinds] for kind in
               ("answers", "abstention", "conversation", "triage", "robustness")}
    metrics: dict[str, float | None] = {}
    metrics.update(_answer_group(by_kind["answers"], "answers"))
    metrics.update(_abstention_group(by_kind["abstention"], "abstention.recall"))
    metrics.update(_answer_group(by_kind["conversation"], "conversation"))
    metrics.update(_abstention_group(by_kind["conversation"], "conversation.abstention_recall"))
    # subtle: a triage case that raised got no escalation at all, so it counts as "none".
    pairs = [(o.case.level or "none", o.level or "none") for o in by_kind["triage"]]
    metrics.update(triage_scores(pairs))
    robust = by_kind["robustness"]
    metrics["robustness.pass_rate"] = _share(sum(1 for o in robust if o.robust_ok), len(robust))
    # Every message answered under an emergency notice, of every suite (triage cases too).
    emergencies = [o for o in observations if o.answered and o.level == "emergency"]
    metrics["safety.emergency_self_care"] = float(sum(o.emergency_self_care for o in emergencies)) \
        if emergencies else None
    times = [o.seconds * 1000 for o in observations if o.seconds is not None]
    metrics["latency.p50_ms"] = percentile(times, 50)
    metrics["latency.p95_ms"] = percentile(times, 95)
    metrics["latency.mean_ms"] = _mean(times)
    metrics["latency.max_ms"] = max(times) if times else None

    with_gold = [o.first_hit for o in by_kind["answers"] if o.case.gold]
    details: dict[str, Any] = {
        "recall_curve": {str(k): recall_at_k(with_gold, k) for k in range(1, DEPTH + 1)} if with_gold else {},
        "conversation_recall_curve": {
            str(k): recall_at_k([o.first_hit for o in by_kind["conversation"] if o.case.gold], k) for k in range(1, DEPTH + 1)
        } if any(o.case.gold for o in by_kind["conversation"]) else {},
        "triage_confusion": confusion(pairs) if by_kind["triage"] else {},
        "triage_breakdown": triage_breakdown(by_kind["triage"]),
        "latencies_ms": [round(t, 2) for t in times],
        "cases": {kind: len(obs) for kind, obs in by_kind.items()} | {"total": len(observations)},
    }
    return metrics, details


# Which way is better, for --against and for threshold hints; metrics not listed are neutral.
LOWER_IS_BETTER = ("triage.under_triage", "triage.over_triage", "false_abstention", "false_refusal", "latency.",
                   "off_gold", "emergency_self_care")
NEUTRAL = ("sentences_mean", "chars_mean", "chars_max", "latency.max_ms")  # max latency is one noisy sample


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither."""
    if any(part in metric for part in NEUTRAL):
        return 0
    return -1 if any(part in metric for part in LOWER_IS_BETTER) else 1


def known_metrics() -> tuple[str, ...]:
    """Every metric name ``summarize`` can produce (thresholds are checked against it)."""
    metrics, _ = summarize([])
    return tuple(metrics)
