"""``report.md``: the report as tables a person reads, plots inline, every failed case listed."""

from __future__ import annotations

import json
from typing import Any

from assistant.evaluation.report import SUITE_ROWS, fmt, md_table, summary_rows
from assistant.schema import LEVELS


def render_markdown(report: dict[str, Any], plots: list[str]) -> str:
    configs = report["configurations"]
    corpus = report["corpus"]
    failed_checks = [c for c in report["thresholds"]["checks"] if c["status"] in ("below", "above")]
    unmeasured = [c for c in report["thresholds"]["checks"] if c["status"] == "not measured"]
    out = [
        "# Evaluation report", "",
        f"- Date: {report['created']}",
        f"- Command: `{' '.join(report['command'])}`",
        f"- Split: **{report['split']}**",
        f"- Corpus: `{corpus.get('dir')}` version **{corpus.get('version')}** "
        f"({corpus.get('documents')} documents, {corpus.get('passages')} passages, indexed {corpus.get('indexed_at')}"
        f"{', temporary index' if corpus.get('temporary_index') else ''})",
        f"- Embedding model: {corpus.get('model')}",
        "- Settings: " + ", ".join(f"{k}={v}" for k, v in report["settings"].items()),
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in report["packages"].items() if v),
        "",
        md_table(["suite", "kinds", "cases", "sha256"],
                 [[s["name"], ", ".join(s["kinds"]), s["cases"], s["sha256"]] for s in report["suites"]]),
        "",
        f"## Verdict: {'PASS' if report['passed'] else 'FAIL'}", "",
    ]
    if failed_checks:
        out += ["Below target (thresholds from " f"`{report['thresholds']['file']}`):", ""]
        out += [f"- **{c['metric']}** [{c['config']}] = {c['value']:.4f}, {c['status']} threshold "
                f"{c['min'] if c['status'] == 'below' else c['max']:g}"
                + (f" (known gap, not blocking: {c['known_gap']})" if c.get("known_gap") else "")
                for c in failed_checks]
        out.append("")
    elif report["thresholds"]["file"]:
        out += [f"Every measured metric meets `{report['thresholds']['file']}`.", ""]
    else:
        out += ["No thresholds file: nothing was gated.", ""]
    if unmeasured:
        out += ["Not measured in this run (no cases of that kind selected): "
                + ", ".join(sorted({f"{c['metric']} [{c['config']}]" for c in unmeasured})), ""]

    header, rows = summary_rows(report)
    out += ["## Summary", "", "A value marked `!` misses its target.", "", md_table(header, rows), ""]
    if report.get("against"):
        against = report["against"]
        out += [f"## Versus `{against['report']}`", ""]
        out += [f"- {n}" for n in against["notes"]]
        out += ["", "**Better**", ""] + ([f"- {c}" for c in against["better"]] or ["- nothing"])
        out += ["", "**Worse**", ""] + ([f"- {c}" for c in against["worse"]] or ["- nothing"])
        if against.get("latency"):
            out += ["", "**Latency** (depends on the machine's load too)", "", *(f"- {c}" for c in against["latency"])]
        if against["newly_failing"]:
            out += ["", "**Newly failing**: " + ", ".join(against["newly_failing"])]
        if against["newly_passing"]:
            out += ["", "**Newly passing**: " + ", ".join(against["newly_passing"])]
        out.append("")

    out += ["## Retrieval", ""]
    if "recall_at_k.png" in plots:
        out += ["![recall@k per configuration](recall_at_k.png)", ""]
    curve_rows = [[name, *(fmt("r", c["details"]["recall_curve"].get(str(k))) for k in range(1, 11))]
                  for name, c in configs.items() if c["details"].get("recall_curve")]
    if curve_rows:
        out += [md_table(["configuration", *(f"@{k}" for k in range(1, 11))], curve_rows), ""]

    out += ["## Triage", ""]
    if "triage_tiers.png" in plots:
        out += ["![triage recall and precision per tier](triage_tiers.png)", ""]
    matrices = {name: c["details"].get("triage_confusion") for name, c in configs.items()}
    # Triage runs before retrieval, so every configuration usually shares one matrix: show it once then.
    same = len({json.dumps(m, sort_keys=True) for m in matrices.values()}) == 1
    for name, matrix in list(matrices.items())[:1] if same else matrices.items():
        if matrix:
            label = "every configuration" if same and len(matrices) > 1 else name
            out += [f"Confusion matrix, {label} (rows expected, columns given):", "",
                    md_table(["expected \\ given", *LEVELS], [[e, *(matrix[e][p] for p in LEVELS)] for e in LEVELS]), ""]

    for name, c in list(configs.items())[:1] if same else configs.items():
        for group, rows in c["details"].get("triage_breakdown", {}).items():
            if group != "tier" and len(rows) < 2:
                continue
            out += [f"Triage by {group}{'' if same else f', {name}'}:", "",
                    md_table([group, "cases", "exact", "under-triaged", "over-triaged"],
                             [[label, r["cases"], r["exact"], r["under"], r["over"]] for label, r in rows.items()]), ""]

    out += ["## Latency", ""]
    timings = report["timings"]
    host = report.get("machine", {})
    out += [", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
            + f" ({host.get('platform')}, {host.get('cpus')} CPUs, load average {host.get('load_average_1m')} at the end)", ""]
    out += [md_table(["configuration", "setup s", "p50 ms", "p95 ms", "mean ms", "max ms"],
                     [[n, f"{c['setup_s']:.2f}", *(fmt("latency.", c["metrics"].get(f"latency.{m}_ms"))
                                                     for m in ("p50", "p95", "mean", "max"))] for n, c in configs.items()]), ""]
    if "latency.png" in plots:
        out += ["![time per question](latency.png)", ""]

    out += ["## By suite", ""]
    for suite in report["suites"]:
        rows = [[m, *(fmt(m, configs[n]["by_suite"].get(suite["name"], {}).get(m)) for n in configs)] for m in SUITE_ROWS]
        rows = [r for r in rows if any(v != "–" for v in r[1:])]
        if rows:
            out += [f"### {suite['name']} ({suite['cases']} cases)", "", md_table(["metric", *configs], rows), ""]

    out += ["## Failed cases", ""]
    for name, c in configs.items():
        out += [f"### {name}: {len(c['failures'])} of {len(c['cases'])} failed", ""]
        if c["failures"]:
            out += [md_table(["case", "topic", "question", "expected", "what came out", "why it failed"],
                             [_failure_row(f) for f in c["failures"]]), ""]
    if report["warnings"]:
        out += ["## Warnings", "", *(f"- {w}" for w in report["warnings"]), ""]
    return "\n".join(out)


def _failure_row(f: dict[str, Any]) -> list[str]:
    question = f["question"] + (f" (after {f['history_turns']} turns)" if f["history_turns"] else "")
    why = "; ".join(f["problems"])
    if f.get("retrieved") and any(p.startswith("retrieval") for p in f["problems"]):
        why += f" (top passages: {', '.join(f['retrieved'])})"
    return [f"{f['suite']}/{f['id']}", f["topic"], question, f["expected"], f["got"], why]
