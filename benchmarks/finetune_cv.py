"""Cross-validated settings for the patient-wording model, on the tune split only.

    .venv/bin/python benchmarks/finetune_cv.py [--folds 5] [--thresholds 0.24,0.28]
        [--lexical-weights 0.1,0.2] [--models bundled,patients]

The default model (assistant.index.embedding.finetune) is trained on the tune split's
questions, so an eval on ``--split tune`` scores questions it has seen. This
script keeps them apart: the answerable single-turn tune questions are dealt
into folds; for each fold a model is trained on the other folds and the
pipeline is scored on this one. Out-of-scope and conversation tune cases are
never trained on and are scored in every fold. It prints each
configuration's mean over the folds for the hybrid mode, beside the bundled
model as it comes (``bundled``), at each scope threshold and lexical weight.

Each fold's model is trained (about 40 s) into a temporary folder, and
``assistant eval --corpus`` indexes the bundled corpus for every run; the
test split is never read. About 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = str(Path(sys.executable).parent / "assistant")
EVALS = ROOT / "evals"
SUITES = ("questions", "out_of_scope", "conversations")
METRICS = ("retrieval.recall@5", "retrieval.mrr", "answers.coverage", "abstention.recall",
           "abstention.false_abstention", "conversation.recall@5", "conversation.coverage")


def trainable(case: dict) -> bool:
    return case["split"] == "tune" and case["expect"] == "answer" and not case.get("history")


def write_folds(folder: Path, folds: int, seed: int) -> list[tuple[Path, Path]]:
    """For each fold: (training file, eval folder holding that fold's questions)."""
    lines = (EVALS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    ids = [c["id"] for c in cases if trainable(c)]
    random.Random(seed).shuffle(ids)
    out = []
    for f in range(folds):
        held = set(ids[f::folds])
        train = folder / f"train{f}.jsonl"
        train.write_text("".join(json.dumps(c) + "\n" for c in cases if trainable(c) and c["id"] not in held))
        evals = folder / f"fold{f}"
        evals.mkdir()
        kept = [c for c in cases if c["split"] == "tune" and (c["id"] in held or not trainable(c))]
        (evals / "questions.jsonl").write_text("".join(json.dumps(c) + "\n" for c in kept))
        for suite in SUITES[1:]:
            (evals / f"{suite}.jsonl").write_text((EVALS / f"{suite}.jsonl").read_text(encoding="utf-8"))
        (evals / "thresholds.toml").write_text((EVALS / "thresholds.toml").read_text(encoding="utf-8"))
        out.append((train, evals))
    return out


def run(model: str, evals: Path, report: Path, env: dict[str, str]) -> dict[str, float]:
    cmd = [ASSISTANT, "eval", "--evals", str(evals), "--split", "tune", "--suite", ",".join(SUITES),
           "--modes", "hybrid", "--no-plots", "-q", "--corpus", str(ROOT / "corpus"), "--model", model,
           "--report", str(report)]
    done = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True)
    if not (report / "report.json").exists():
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    data = json.loads((report / "report.json").read_text())
    return data["configurations"]["hybrid"]["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--thresholds", default="0.24,0.28", help="scope_threshold values to try")
    parser.add_argument("--lexical-weights", default="0.2", help="lexical_weight values to try")
    parser.add_argument("--models", default="bundled,patients", help="which models to score")
    args = parser.parse_args()
    from assistant.index.embedding import resolve_model
    from assistant.index.embedding.finetune import tuned_model

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        folds = write_folds(folder, args.folds, args.seed)
        base = resolve_model("all-MiniLM-L6-v2")
        models = [str(tuned_model(base, train, folder / "models")) for train, _ in folds]
        print("configuration".ljust(26) + "".join(m.split(".", 1)[1][:13].rjust(14) for m in METRICS))
        for threshold in args.thresholds.split(","):
            for lexical in args.lexical_weights.split(","):
                for name in args.models.split(","):
                    runs = []
                    for f, (_, evals) in enumerate(folds):
                        model = "all-MiniLM-L6-v2@onnx" if name == "bundled" else models[f]
                        setting = {"ASSISTANT_SCOPE_THRESHOLD": threshold, "ASSISTANT_LEXICAL_WEIGHT": lexical}
                        runs.append(run(model, evals, folder / f"r-{threshold}-{lexical}-{name}-{f}", {**env, **setting}))
                    means = [sum(r[m] for r in runs) / len(runs) for m in METRICS]
                    label = f"{name}, t {threshold}, lex {lexical}"
                    print(label.ljust(26) + "".join(f"{v:14.3f}" for v in means), flush=True)


if __name__ == "__main__":
    main()
