"""Fit the scope model (assistant.scope.answerable) on the tune data only, and print its weights.

    .venv/bin/python benchmarks/tune_scope.py [--write]

Every tune case of the bundled corpus's suites, and of each swapped corpus under
evals/swapped/ (indexed into a temporary folder), is asked through the real
pipeline. The features of its scope decision are kept with its label: the
sources answer it (expect answer or partial) or not (abstain). Requests the
assistant refuses outright never reach the model and are left out. A logistic
regression (scikit-learn) is fitted on them; the script prints, for a range of
thresholds, out-of-scope declined and in-scope false abstention per corpus, and
chooses the threshold that declines the most while false abstention on the
pooled tune data stays at most MAX_FALSE. ``--write`` stores the weights in
data/tuning.toml. The test split and evals/frozen/ are never read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assistant.config import DATA_DIR, Settings  # noqa: E402
from assistant.scope.answerable import FEATURES  # noqa: E402

EVALS = ROOT / "evals"
BUNDLED_SUITES = ("questions", "out_of_scope", "scope_blind_a_in", "scope_blind_a_out", "scope_blind_b_in",
                  "scope_blind_b_out", "scope_blind_c_in", "scope_blind_c_out", "scope_blind_d_in", "scope_blind_d_out")
MAX_FALSE = 0.03  # the subject-slot rule adds about 0.01 on the tune data; 0.05 is the target


def tune_cases(path: Path) -> list[dict]:
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [c for c in cases if c.get("split") == "tune" and not c.get("history")
            and c.get("expect", "answer") in ("answer", "partial", "abstain", "refuse")]


def collect(corpus: Path, suites: list[Path], settings: Settings, embedder) -> list[tuple[str, str, str, dict]]:
    """(corpus name, case id, label, features) for every tune case that reached the scope model."""
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    rows = []
    with tempfile.TemporaryDirectory(prefix="assistant-scope-") as tmp:
        local = replace(settings, corpus_dir=corpus, index_dir=Path(tmp) / "index")
        ingest(local, embedder)
        assistant = Assistant.load(local, embedder)
        for suite in suites:
            for case in tune_cases(suite):
                answer = assistant.ask(case["question"])
                if answer.scope is None or answer.scope.decision == "refuse" or not answer.scope.features:
                    continue
                label = "in" if case.get("expect", "answer") in ("answer", "partial") else "out"
                rows.append((corpus.parent.name if corpus != ROOT / "corpus" else "bundled", case["id"], label,
                             answer.scope.features))
    return rows


def report(rows, weights: np.ndarray, bias: float, thresholds) -> float:
    X = np.array([[r[3][f] for f in FEATURES] for r in rows])
    p = 1 / (1 + np.exp(-(X @ weights + bias)))
    corpora = sorted({r[0] for r in rows})
    best, best_decline = 0.5, -1.0
    print("threshold  " + "  ".join(f"{c}: declined / false abst." for c in corpora) + "  pooled")
    for t in thresholds:
        line, pooled_in, pooled_out = [], [], []
        for c in corpora:
            inside = [p[i] >= t for i, r in enumerate(rows) if r[0] == c and r[2] == "in"]
            outside = [p[i] < t for i, r in enumerate(rows) if r[0] == c and r[2] == "out"]
            pooled_in += inside
            pooled_out += outside
            line.append(f"{np.mean(outside):.3f} / {1 - np.mean(inside):.3f}")
        false, decline = 1 - np.mean(pooled_in), np.mean(pooled_out)
        print(f"{t:9.2f}  " + "  ".join(line) + f"  {decline:.3f} / {false:.3f}")
        if false <= MAX_FALSE and decline > best_decline:
            best, best_decline = t, decline
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="store the fitted weights in data/tuning.toml")
    parser.add_argument("--features", type=Path, help="reuse features saved by an earlier run (JSON)")
    parser.add_argument("--save", type=Path, help="save the collected features (JSON)")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    if args.features:
        rows = [tuple(r) for r in json.loads(args.features.read_text())]
    else:
        from assistant.index.embedding import load_embedder

        settings = Settings.resolve()
        embedder = load_embedder(settings.model)
        rows = collect(ROOT / "corpus", [EVALS / f"{s}.jsonl" for s in BUNDLED_SUITES], settings, embedder)
        for folder in sorted((EVALS / "swapped").iterdir()):
            if (folder / "corpus").is_dir():
                rows += collect(folder / "corpus", sorted(folder.glob("*.jsonl")), settings, embedder)
        if args.save:
            args.save.write_text(json.dumps(rows))
    X = np.array([[r[3][f] for f in FEATURES] for r in rows])
    y = np.array([r[2] == "in" for r in rows])
    print(f"{len(rows)} tune cases: {int(y.sum())} answerable, {int((~y).sum())} not")
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(X, y)
    weights, bias = model.coef_[0], float(model.intercept_[0])
    print("weights: " + ", ".join(f"{f} {w:+.3f}" for f, w in zip(FEATURES, weights)) + f", bias {bias:+.3f}")
    chosen = report(rows, weights, bias, np.round(np.arange(0.1, 0.71, 0.02), 2))
    table = {"bias": bias, **dict(zip(FEATURES, map(float, weights)))}
    snippet = "\n".join(f"{k} = {v:.3f}" for k, v in table.items())
    print(f"\nchosen threshold {chosen:.2f} (the highest decline with false abstention <= {MAX_FALSE})\n"
          f"[defaults] scope_threshold = {chosen:.2f}\n[scope]\n{snippet}")
    if args.write:
        path = DATA_DIR / "tuning.toml"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^scope_threshold = .*$", f"scope_threshold = {chosen:.2f}", text, count=1)
        for key, value in table.items():
            text = re.sub(rf"(?m)^(\[scope\][\s\S]*?^){key} = .*$", rf"\g<1>{key} = {value:.3f}", text, count=1)
        path.write_text(text, encoding="utf-8")
        print(f"written to {path}; set Settings.scope_threshold in config.py to {chosen:.2f} too")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
