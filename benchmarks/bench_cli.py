"""What a user of the command line waits for, measured on fresh processes.

    .venv/bin/python benchmarks/bench_cli.py [--out benchmarks/cli.json]

- ``assistant ask --jsonl`` on 20 questions: cold start (process start to the
  first answer line) and warm time per question (the 19 answers after it).
- ``assistant ingest`` of a copy of the bundled corpus into a fresh index, then
  again with nothing changed, then after adding one document.

Timings on a shared 2-core machine are noisy; each figure is the median of
``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("assistant")
NEW_DOC = """# Cold compresses after microneedling

A cold compress can ease swelling on the first day. Wrap ice in a clean cloth and hold it on the skin
for ten minutes at a time, never directly on the treated area.
"""


def questions(n: int = 20) -> list[str]:
    lines = (ROOT / "evals" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(x) for x in lines if x.strip()]
    return [c["question"] for c in cases if c["split"] == "test"][:n]


def env_for(index: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "CHROMA_"))}
    env["ASSISTANT_INDEX"] = str(index)
    return env


def ask_jsonl(index: Path, qs: list[str]) -> tuple[float, float]:
    """(cold start seconds to the first answer, mean warm seconds per later answer)."""
    payload = "".join(json.dumps({"question": q}) + "\n" for q in qs)
    started = time.perf_counter()
    proc = subprocess.Popen([str(EXE), "ask", "--jsonl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env_for(index))
    assert proc.stdin and proc.stdout
    proc.stdin.write(payload)
    proc.stdin.close()
    stamps = []
    for line in proc.stdout:
        json.loads(line)
        stamps.append(time.perf_counter())
    if proc.wait() != 0 or len(stamps) != len(qs):
        raise SystemExit(f"ask --jsonl failed (exit {proc.returncode}, {len(stamps)} answers)")
    return stamps[0] - started, (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def ingest(corpus: Path, index: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(EXE), "ingest", "--corpus", str(corpus)], check=True, env=env_for(index),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        runs: dict[str, list[float]] = {k: [] for k in ("ingest_full_s", "ingest_unchanged_s", "ingest_add_one_s")}
        for i in range(args.repeat):
            corpus, index = base / f"corpus{i}", base / f"index{i}"
            shutil.copytree(ROOT / "corpus", corpus)
            runs["ingest_full_s"].append(ingest(corpus, index))
            runs["ingest_unchanged_s"].append(ingest(corpus, index))
            (corpus / "cold-compresses.md").write_text(NEW_DOC, encoding="utf-8")
            runs["ingest_add_one_s"].append(ingest(corpus, index))
        results.update({k: statistics.median(v) for k, v in runs.items()})
        qs = questions()
        cold, warm = zip(*(ask_jsonl(base / "index0", qs) for _ in range(args.repeat)))
        results["ask_jsonl_cold_start_s"] = statistics.median(cold)
        results["ask_jsonl_warm_per_question_ms"] = statistics.median(warm) * 1000
        results["questions"] = len(qs)
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:8.3f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
