"""End-to-end performance benchmark: one command, a printed table and a JSON file.

    .venv/bin/python benchmarks/bench.py [--out benchmarks/results.json] [--quick]

Everything runs against temporary copies (corpus, indexes, ONNX exports) that
are deleted at the end; nothing is downloaded. Timings on a small shared
machine are noisy: compare the RATIOS measured in the same run (pipeline vs.
embedding alone, ingest vs. raw encode, onnx vs. torch), not absolute numbers
across runs. Sections (each one's failure is recorded and the rest carry on;
one module each under sections/, the pieces they share in harness.py):

- ingest     full ingest of the bundled corpus vs. raw SentenceTransformer.encode
             of the same texts; re-ingest of the unchanged corpus (CLI subprocess)
             with an import-time breakdown
- cold       process start to first answer: `assistant ask` (median of 3), and
             `python app.py` until a gradio_client predict returns (section app)
- warm       per-question latency of Assistant.ask over the eval test split,
             beside embed_query alone, with a per-stage breakdown
- triage     warm triage over every message of evals/triage*.jsonl
- load       N simultaneous chat users through gradio_client (red-flag messages
             mixed in: every one must carry its escalation notice)
- scale      index of 1k / 10k / 100k synthetic passages (see sections/scale.py for
             how their vectors are made): build time, query latency, process RSS
- docs1000   ingest of 1,000 synthetic small documents with real embeddings
- onnx       torch vs. @onnx vs. @onnx-int8: export cost, query-embedding latency,
             ingest throughput, cold start, warm ask, vector agreement and
             retrieval quality (Recall@k, MRR) on the eval test split

``--quick`` skips the 100k scale level and the 1,000-document ingest. Exit status 1
when any section, or any scale level, failed.
"""

# subtle: run as `python benchmarks/bench.py`, Python puts benchmarks/ first on sys.path,
# so `harness` and the `sections` package import as top-level names with no path set-up;
# the scale workers are this same script, started the same way.

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant.home import Home

import harness
from harness import MODEL, ROOT, Bench, Row, failures, now, row, section
from sections import app, cold, docs1000, ingest, load, onnx, scale, triage, warm

SECTIONS = ("ingest", "cold", "warm", "triage", "app", "load", "scale", "docs1000", "onnx")  # the order they run in
# The order of their rows in the table; onnx prints a block of its own below it.
TABLE = {"ingest": ingest.rows, "cold": cold.rows, "app": app.rows, "warm": warm.rows, "triage": triage.rows,
         "load": load.rows, "scale": scale.rows, "docs1000": docs1000.rows}


def table(results: dict[str, Any]) -> str:
    """The printed summary: a line per failed section, each section's rows, then the ONNX block."""

    def record(name: str) -> dict[str, Any]:
        value = results.get(name)
        return value if isinstance(value, dict) else {}

    rows: list[Row] = [row(f"{name}: FAILED", record(name)["error"].splitlines()[-1][:80])
                       for name in SECTIONS if record(name).get("error")]
    for name, rows_of in TABLE.items():
        rows += rows_of(record(name))
    width = max((len(r[0]) for r in rows), default=10)
    vwidth = min(max((len(r[1]) for r in rows), default=10), 40)
    lines = [f"{metric:<{width}}  {value:>{vwidth}}  {note}".rstrip() for metric, value, note in rows]
    return "\n".join(lines + onnx.lines(record("onnx")))


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json", help="JSON results file")
    parser.add_argument("--quick", action="store_true", help="skip the 100k scale level and the 1,000-document ingest")
    parser.add_argument("--users", type=int, default=20, help="simultaneous chat users (default 20)")
    parser.add_argument("--messages", type=int, default=10, help="messages per user (default 10)")
    parser.add_argument("--scale-sizes", help="comma-separated passage counts (default 1000,10000,100000; "
                        "--quick: 1000,10000)")
    parser.add_argument("--only", help="comma-separated sections to run (ingest,cold,warm,triage,app,load,scale,docs1000,onnx)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    # A scale worker: this script again, in a fresh process (see sections/scale.py).
    parser.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--real-vectors", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("build", "serve"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_sections(results: dict[str, Any], b: Bench, wanted: set[str], args: argparse.Namespace) -> None:
    # The base index is built by the ingest section; build it anyway when that is skipped.
    if "ingest" in wanted:
        section(results, "ingest", lambda: ingest.run(b))
    else:
        ingest.build_base_index(b)
    if "cold" in wanted:
        section(results, "cold", lambda: cold.run(b))
    if "warm" in wanted:
        section(results, "warm", lambda: warm.run(b))
    if "triage" in wanted:
        section(results, "triage", lambda: triage.run(b))
    if wanted & {"app", "load"}:
        # One app serves both; load needs its first answer, so it runs only after app succeeded.
        server = app.App(b)
        try:
            section(results, "app", lambda: app.run(server))
            if "load" in wanted and "error" not in results.get("app", {}):
                section(results, "load", lambda: load.run(server, args.users, args.messages))
        finally:
            server.stop()
    if "scale" in wanted:
        sizes = (1000, 10_000) if args.quick else (1000, 10_000, 100_000)
        if args.scale_sizes:
            sizes = tuple(int(n) for n in args.scale_sizes.split(","))
        section(results, "scale", lambda: scale.run(b, sizes))
    if "docs1000" in wanted:
        section(results, "docs1000", lambda: docs1000.run(b))
    if "onnx" in wanted:
        section(results, "onnx", lambda: onnx.run(b))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.scale_worker:
        if args.phase == "build":
            print(json.dumps(scale.build(args.scale_worker, args.base_index, args.dir, args.real_vectors)))
        else:
            print(json.dumps(scale.serve(args.dir, queries=40)))
        return 0

    wanted = set((args.only or ",".join(SECTIONS)).split(","))
    if args.quick:
        wanted.discard("docs1000")
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    # subtle: the product keeps its model, exports and caches in the per-user home folder
    # (assistant.home); a HOME inside the workspace keeps the run hermetic (the user's is
    # never written) and reaches subprocesses. The trained model alone is copied in, so no
    # run pays for training it; "model_first_load_s" is the ONNX export and the first load.
    trained = Home.of(None).models
    os.environ["HOME"] = harness.ENV["HOME"] = str(work / "home")
    if trained.is_dir():
        shutil.copytree(trained, Home.of(None).models)
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quick": args.quick,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()),
            "machine": platform.platform(),
            "model": MODEL,
        }
    }
    started = now()
    try:
        b = Bench(work)
        results["meta"]["model_load_s"] = round(b.model_load_s, 2)
        results["meta"]["model_first_load_s"] = round(b.first_load_s, 2)
        run_sections(results, b, wanted, args)
    finally:
        results["meta"]["total_s"] = round(now() - started, 1)
        results["meta"]["load_average_at_end"] = list(os.getloadavg())
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    print(f"\nResults: {args.out}  (total {results['meta']['total_s']} s; load average at start "
          f"{results['meta']['load_average_at_start'][0]:.1f} on {os.cpu_count()} CPUs)")
    failed = failures(results)
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the errors in {args.out})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
