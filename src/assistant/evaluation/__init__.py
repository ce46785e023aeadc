"""Offline evaluation: suites, metrics and reports (``assistant eval``).

    suites.py      JSONL suites under evals/, case kinds inferred from fields
    metrics.py     pure metric functions and the per-configuration summary
    runner.py      configurations (mode[+answerer]) and running cases through Assistant.ask
    thresholds.py  evals/thresholds.toml gates with min/max per configuration
    report.py      report.json and the summary table; markdown.py renders report.md; plots.py the PNGs
    compare.py     --against: better and worse versus an earlier report
    session.py     one run end to end (what the CLI calls)

Only ``suites``, ``metrics``, ``thresholds`` and ``compare`` are light; the
runner imports the pipeline (torch, chromadb), so it is imported on use.

>>> from assistant.evaluation import recall_at_k
>>> recall_at_k([1, None], 5)
0.5
"""

from __future__ import annotations

from assistant.evaluation.compare import Comparison, compare
from assistant.evaluation.metrics import (
    CitationCheck,
    check_citations,
    cited_claims,
    covers,
    mean_reciprocal_rank,
    ndcg_at_k,
    recall_at_k,
    triage_scores,
)
from assistant.evaluation.session import EvalOutcome, EvalRequest, run
from assistant.evaluation.suites import Case, Suite, discover, kinds_of, load_suite
from assistant.evaluation.thresholds import Check, Thresholds

__all__ = [
    "Case",
    "Check",
    "CitationCheck",
    "Comparison",
    "EvalOutcome",
    "EvalRequest",
    "Suite",
    "Thresholds",
    "check_citations",
    "cited_claims",
    "compare",
    "covers",
    "discover",
    "kinds_of",
    "load_suite",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "recall_at_k",
    "run",
    "triage_scores",
]
