"""Benchmark red-flag triage: warm latency per message and accuracy by tier.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_triage.py [--split test|tune|all] [--json PATH]

Latency is measured over every case of evals/triage.jsonl (all splits) after one
untimed warm-up pass; each message is timed ``--repeat`` times and its median
kept. Accuracy is reported on one split (``test`` by default): per tier,
recall (exact tier), caught (that tier or higher), precision, under-triage (a
lower tier than labelled) and over-triage (a higher one), and a confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from assistant.schema import LEVELS, Turn
from assistant.safety import Triager

ROOT = Path(__file__).resolve().parents[1]
EVALS = ROOT / "evals" / "triage.jsonl"
RANK = {"none": 0, "urgent": 1, "emergency": 2}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def history(case: dict[str, Any]) -> list[Turn]:
    return [Turn(t["role"], t["content"]) for t in case["history"]]


def latency(triager: Triager, cases: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    for case in cases:  # warm-up: regex caches, lazy imports
        triager.assess(case["message"], history(case))
    per_message = []
    for case in cases:
        turns = history(case)
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            triager.assess(case["message"], turns)
            runs.append((time.perf_counter() - start) * 1000)
        per_message.append(statistics.median(runs))
    per_message.sort()

    def pct(q: float) -> float:
        return per_message[min(len(per_message) - 1, round(q * (len(per_message) - 1)))]

    return {"n": len(per_message), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "max_ms": per_message[-1],
            "mean_ms": statistics.fmean(per_message)}


def accuracy(triager: Triager, cases: list[dict[str, Any]]) -> dict[str, Any]:
    predicted = {c["id"]: triager.assess(c["message"], history(c)).level for c in cases}
    confusion = {want: {got: 0 for got in LEVELS} for want in LEVELS}
    for c in cases:
        confusion[c["level"]][predicted[c["id"]]] += 1
    tiers = {}
    for tier in LEVELS:
        row = confusion[tier]
        n = sum(row.values())
        called = sum(confusion[w][tier] for w in LEVELS)
        tiers[tier] = {
            "n": n,
            "recall": row[tier] / n if n else None,
            "caught": sum(v for got, v in row.items() if RANK[got] >= RANK[tier]) / n if n else None,
            "precision": row[tier] / called if called else None,
            "under_triage": sum(v for got, v in row.items() if RANK[got] < RANK[tier]) / n if n else None,
            "over_triage": sum(v for got, v in row.items() if RANK[got] > RANK[tier]) / n if n else None,
        }
    wrong = [{"id": c["id"], "want": c["level"], "got": predicted[c["id"]], "message": c["message"][:120],
              "why": c["why"]} for c in cases if predicted[c["id"]] != c["level"]]
    return {
        "n": len(cases),
        "tiers": tiers,
        "confusion": confusion,
        "under_triaged": [w for w in wrong if RANK[w["got"]] < RANK[w["want"]]],
        "over_triaged": [w for w in wrong if RANK[w["got"]] > RANK[w["want"]]],
    }


def fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def report(figures: dict[str, Any]) -> str:
    lat, acc = figures["latency"], figures["accuracy"]
    lines = [
        f"rules loaded cold in {figures['load_ms']:.1f} ms",
        f"warm latency over {lat['n']} eval messages (median of {figures['repeat']} runs each): "
        f"p50 {lat['p50_ms']:.3f} ms  p95 {lat['p95_ms']:.3f} ms  max {lat['max_ms']:.3f} ms",
        "",
        f"accuracy on split '{figures['split']}' ({acc['n']} cases)",
        f"{'tier':<10}{'n':>5}  {'recall':>7} {'caught':>7} {'precis.':>7} {'under':>7} {'over':>7}",
    ]
    for tier in LEVELS:
        t = acc["tiers"][tier]
        lines.append(f"{tier:<10}{t['n']:>5}  {fmt(t['recall']):>7} {fmt(t['caught']):>7} {fmt(t['precision']):>7} "
                     f"{fmt(t['under_triage']):>7} {fmt(t['over_triage']):>7}")
    lines += ["", "confusion (rows: labelled, columns: predicted)", f"{'':<10}" + "".join(f"{g:>11}" for g in LEVELS)]
    for want in LEVELS:
        lines.append(f"{want:<10}" + "".join(f"{acc['confusion'][want][g]:>11}" for g in LEVELS))
    for title, key in (("UNDER-TRIAGED (missed red flags)", "under_triaged"), ("over-triaged", "over_triaged")):
        lines += ["", f"{title}: {len(acc[key])}"]
        lines += [f"  {w['id']} {w['want']} -> {w['got']}: {w['message']!r}" for w in acc[key]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("test", "tune", "all"), default="test", help="split for the accuracy table")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per message")
    parser.add_argument("--evals", type=Path, default=EVALS)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    triager = Triager.from_file()
    load_ms = (time.perf_counter() - start) * 1000
    cases = load(args.evals)
    chosen = cases if args.split == "all" else [c for c in cases if c["split"] == args.split]
    figures = {"split": args.split, "repeat": args.repeat, "load_ms": load_ms,
               "latency": latency(triager, cases, args.repeat), "accuracy": accuracy(triager, chosen)}
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
