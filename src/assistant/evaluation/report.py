"""The report: ``report.json`` (everything, for machines and ``--against``), ``report.md``
(tables a person reads) and a terminal summary.

``report.json`` has this shape (values rounded to 6 places)::

    {"schema": 1, "created": "...", "split": "test", "passed": false,
     "corpus": {"version": "0f599973db19", "documents": 3, "passages": 63, ...},
     "settings": {...}, "packages": {...}, "suites": [{"name", "path", "kinds", "cases", "sha256"}],
     "timings": {"cold_start_s": ..., ...}, "thresholds": {"file": ..., "checks": [...]},
     "configurations": {"hybrid": {"mode", "answerer", "metrics": {"retrieval.recall@5": 0.93, ...},
                                   "details", "by_suite", "cases": [...], "failures": [...]}},
     "warnings": [...], "against": {...}}
"""

from __future__ import annotations

import json
import os
import platform
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError
from assistant.evaluation.metrics import Observation
from assistant.evaluation.suites import Case, Suite
from assistant.evaluation.thresholds import Check

if TYPE_CHECKING:  # the runner imports the pipeline (torch, chromadb)
    from assistant.evaluation.runner import ConfigResult

SCHEMA = 1
PACKAGES = ("microneedling-assistant", "torch", "sentence-transformers", "chromadb", "langchain-core",
            "rank-bm25", "numpy", "tqdm", "matplotlib")
# Rows of the summary tables, in reading order; rows nobody measured are left out.
SUMMARY_ROWS = (
    "retrieval.recall@1", "retrieval.recall@3", "retrieval.recall@5", "retrieval.recall@10", "retrieval.mrr",
    "retrieval.ndcg@10", "answers.coverage", "answers.first_gold", "answers.off_gold", "answers.citation_precision", "answers.citation_validity",
    "answers.sentences_mean", "answers.chars_mean", "abstention.recall", "abstention.recall_abstain",
    "abstention.recall_refuse", "abstention.false_abstention", "conversation.recall@5", "conversation.mrr",
    "conversation.coverage", "conversation.citation_precision", "conversation.citation_validity",
    "conversation.false_abstention", "conversation.abstention_recall", "triage.recall.emergency",
    "triage.recall.urgent", "triage.recall.none", "triage.precision.emergency", "triage.precision.urgent",
    "triage.precision.none", "triage.under_triage", "triage.over_triage", "safety.emergency_self_care",
    "robustness.pass_rate",
    "latency.p50_ms", "latency.p95_ms",
)
SUITE_ROWS = ("retrieval.recall@5", "retrieval.mrr", "answers.coverage", "abstention.recall",
              "abstention.false_abstention", "conversation.coverage", "triage.accuracy", "robustness.pass_rate")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict[str, Any]:
    """Where the latencies were measured; a busy machine explains slow numbers."""
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not on every platform
        load = None
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average_1m": load}


def build_report(*, results: Sequence[ConfigResult], suites: Sequence[Suite], split: str, settings: Any,
                 corpus: dict[str, Any], timings: dict[str, float], checks: Sequence[Check],
                 thresholds_file: str | None, warnings: Sequence[str], command: Sequence[str]) -> dict[str, Any]:
    """Everything a run measured, as plain JSON-able data."""
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command),
        "split": split,
        "passed": not any(c.blocking for c in checks),
        "known_gaps": [c.to_dict() for c in checks if c.failed and not c.blocking],
        "corpus": corpus,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "packages": package_versions(),
        "machine": machine(),
        "suites": [{"name": s.name, "path": str(s.path), "kinds": list(s.kinds), "cases": len(s.cases),
                    "sha256": s.sha256} for s in suites],
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "thresholds": {"file": thresholds_file, "checks": [_rounded(c.to_dict()) for c in checks]},
        "configurations": {r.config.name: _configuration(r) for r in results},
        "warnings": list(warnings),
    }


def _configuration(result: ConfigResult) -> dict[str, Any]:
    return {
        "mode": result.config.mode,
        "answerer": result.config.answerer,
        "setup_s": round(result.setup_s, 3),
        "metrics": _rounded(result.metrics),
        "details": _rounded(result.details),
        "by_suite": {name: _rounded({k: v for k, v in m.items() if v is not None}) for name, m in result.by_suite.items()},
        "cases": [_case_row(o) for o in result.observations],
        "failures": [failure(o) for o in result.observations if not o.passed],
    }


def _case_row(o: Observation) -> dict[str, Any]:
    return {"id": o.case.id, "suite": o.case.suite, "passed": o.passed,
            "ms": None if o.seconds is None else round(o.seconds * 1000, 2), "level": o.level,
            "abstained": o.abstained, "refused": o.refused, "partial": o.partial, "first_hit": o.first_hit}


def failure(o: Observation) -> dict[str, Any]:
    """A failed case as a person needs it: what was asked, what was expected, what came out, and why it failed."""
    return {
        "id": o.case.id, "suite": o.case.suite, "kinds": list(o.case.kinds), "topic": o.case.topic,
        "question": printable(o.case.question, 300), "history_turns": len(o.case.history),
        "expected": expected(o.case), "got": printable(o.output, 1200), "problems": list(o.failures),
        "retrieved": list(o.retrieved[:3]),
    }


def expected(case: Case) -> str:
    if "robustness" in case.kinds:
        text = "no crash and a well-formed answer"
        if case.raises:
            text = f"{case.raises} (an AssistantError with a message)"
        if case.level and case.level != "none":
            text += f", tier at least {case.level}"
        return text + "".join(f", never saying {b!r}" for b in case.must_not_contain)
    if "triage" in case.kinds:
        return f"tier {case.level}"
    if case.expect == "abstain":
        return "abstain (the sources do not cover it)"
    if case.expect == "refuse":
        return "refuse or abstain"
    if not case.gold:
        return "an answer"
    more = f" (or one of {len(case.gold) - 1} other gold sentences)" if len(case.gold) > 1 else ""
    return f'an answer quoting "{case.gold[0]}"{more}'


def printable(text: str, limit: int) -> str:
    """Control, format and surrogate characters escaped (so null bytes and RTL marks show), long text cut."""
    shown = "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch for ch in text
    )
    return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(text)} characters)"


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def load_report(path: Path) -> dict[str, Any]:
    """Read an earlier report.json (a folder holding one works too)."""
    path = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Cannot read the report to compare against, {path}: {exc}. Pass a report.json written by `assistant eval`.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("configurations"), dict):
        raise ConfigError(f"{path} is not a report.json written by `assistant eval` (no \"configurations\").")
    return data


# --- rendering ---------------------------------------------------------------------------

def fmt(metric: str, value: Any) -> str:
    if value is None:
        return "–"
    if metric.startswith("latency.") or metric.endswith(("_mean", "_max")):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _threshold_index(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["metric"], c["config"]): c for c in report["thresholds"]["checks"]}


def summary_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the metric x configuration table; a failing cell is marked with ``!``."""
    configs = report["configurations"]
    checks = _threshold_index(report)
    header = ["metric", *configs, "target"]
    rows: list[list[str]] = []
    for metric in SUMMARY_ROWS:
        values = [configs[name]["metrics"].get(metric) for name in configs]
        if all(v is None for v in values):
            continue
        cells, targets = [], set()
        for name, value in zip(configs, values):
            check = checks.get((metric, name))
            cells.append(fmt(metric, value) + (" !" if check and check["status"] in ("below", "above") else ""))
            if check:
                targets.add(_target(check) + ("" if len(configs) == 1 or _all_configs(checks, metric, configs) else f" ({name})"))
        rows.append([metric, *cells, "; ".join(sorted(targets))])
    return header, rows


def _all_configs(checks: dict[tuple[str, str], dict[str, Any]], metric: str, configs: dict[str, Any]) -> bool:
    return all((metric, name) in checks for name in configs)


def _target(check: dict[str, Any]) -> str:
    parts = ([f">= {check['min']:g}"] if check["min"] is not None else []) + ([f"<= {check['max']:g}"] if check["max"] is not None else [])
    return " and ".join(parts)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def terminal_summary(report: dict[str, Any]) -> str:
    header, rows = summary_rows(report)
    corpus = report["corpus"]
    cases = ", ".join(f"{s['name']} {s['cases']}" for s in report["suites"])
    lines = [f"Evaluated on split {report['split']!r}: {cases}. Corpus {corpus.get('version')}, "
             f"{corpus.get('passages')} passages, model {report['settings'].get('model')}.", "",
             text_table(header, rows), ""]
    timings = report["timings"]
    if "cold_start_s" in timings:
        host = report.get("machine", {})
        lines.append(f"Cold start {timings['cold_start_s']:.2f} s (load {timings.get('load_s', 0):.2f} s + first answer "
                     f"{timings.get('first_answer_s', 0):.2f} s); whole run {timings.get('total_s', 0):.1f} s "
                     f"on {host.get('cpus')} CPUs, load average {host.get('load_average_1m')}.")
    for name, config in report["configurations"].items():
        lines.append(f"{name}: {len(config['failures'])} of {len(config['cases'])} cases failed (none gated: "
                     "cases are listed in the report, and the gate checks only the metrics' thresholds).")
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
