"""The patient-wording model: the bundled MiniLM fine-tuned on the labelled questions.

The bundled all-MiniLM-L6-v2 puts "my face is still red 3 days later is that
ok" far from "...if you notice that the redness persists for more than 48
hours...", the sentence that answers it. The labelled questions under
``evals/`` pair exactly such wording with the source sentences that answer it.
This module fine-tunes the model on those pairs, once, and caches the result::

    ~/.cache/assistant/models/all-MiniLM-L6-v2-patients-<fingerprint>/

The fingerprint covers the training questions file and the recipe below, so
editing the questions gives a new model (and ``assistant ingest`` rebuilds an
index made with the old one). The model is then used like any local model
folder, on torch or exported to ONNX.

Only answerable, single-turn questions of the **tune** split are trained on,
so the held-back test split measures the model on questions it never saw. An
eval on ``--split tune`` scores questions the model was trained on; compare
configurations on the tune split with the bundled model
(``--model all-MiniLM-L6-v2@onnx``), or with ``benchmarks/finetune_cv.py``.

The recipe: contrastive training with the softmax over one answering sentence
per question against the other answering sentences of the batch and up to 64
answering sentences of other questions (never the corpus, so a new corpus
needs no new model), 3 epochs, AdamW at 3e-5, seed 0, two threads (two
trainings give byte-identical weights). torch and
sentence-transformers are imported inside :func:`fine_tune` only.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DataFileError, ModelUnavailableError

TUNED_NAME = "all-minilm-l6-v2-patients"
TRAINING_FILE = Path(__file__).resolve().parents[2] / "evals" / "questions.jsonl"
DEFAULT_CACHE = Path("~/.cache/assistant/models")
# subtle: the thread count is part of the recipe: float sums split over a different number of
# threads round differently, and a model trained on a 16-core machine would not be this one.
RECIPE = {"version": 1, "epochs": 3, "learning_rate": 3e-5, "batch": 16, "negatives": 64,
          "temperature": 0.05, "seed": 0, "threads": 2}


@dataclass(frozen=True)
class TrainingQuestion:
    question: str
    gold: tuple[str, ...]


def read_training(path: Path) -> list[TrainingQuestion]:
    """The answerable, single-turn questions of the tune split in a labelled-questions JSONL
    file, read and checked by the eval suites' own reader.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    >>> row = '{"id": "%s", "question": "%s", "gold": ["%s"], "expect": "answer", "split": "%s"}' + chr(10)
    >>> _ = f.write(row % ("q1", "red on day 3?", "Redness fades.", "tune") + row % ("q2", "bumps?", "Pimples.", "tune"))
    >>> _ = f.write(row % ("q3", "held back", "Redness fades.", "test")); f.close()
    >>> read_training(Path(f.name))[0]
    TrainingQuestion(question='red on day 3?', gold=('Redness fades.',))
    >>> len(read_training(Path(f.name)))
    2
    >>> os.unlink(f.name)
    """
    from assistant.evaluation.suites import load_suite

    _require(path)
    items = [TrainingQuestion(c.question.strip(), c.gold) for c in load_suite(path).cases
             if c.split == "tune" and c.expect == "answer" and c.gold and not c.history and c.question.strip()]
    if len({g for item in items for g in item.gold}) < 2:
        raise DataFileError(
            f"{path} has too few answerable tune-split questions to train the patient-wording model on "
            f"(it needs at least two different answering sentences). Add some, or use --model all-MiniLM-L6-v2@onnx."
        )
    return items


def _require(path: Path) -> None:
    if not path.is_file():
        raise ModelUnavailableError(
            f"The patient-wording model is trained from {path}, which was not found. Restore "
            f"evals/questions.jsonl from the repository, or use the bundled model: --model all-MiniLM-L6-v2@onnx."
        )


def fingerprint(training: Path) -> str:
    """Changes when the training questions or the recipe change; cheap (no model is loaded)."""
    digest = hashlib.sha256(training.read_bytes())
    digest.update(json.dumps(RECIPE, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def tuned_model(base: Path, training: Path, cache_dir: Path | None = None) -> Path:
    """The cached fine-tuned model folder for ``training``, trained first if it is not there yet.

    Trained into a temporary folder and renamed into place, so an interrupted
    run leaves nothing half-written and two processes both end with a model.
    """
    _require(training)  # says what to do, even when a model is cached
    folder = (cache_dir or DEFAULT_CACHE).expanduser() / f"{TUNED_NAME}-{fingerprint(training)}"
    if (folder / "training.json").exists():
        return folder  # subtle: the questions are parsed (about 50 ms) only to train, never at a start
    items = read_training(training)
    print(f"Training the patient-wording model on {len(items)} labelled questions from {training} "
          f"(once; about a minute) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    scratch = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        losses = fine_tune(base, items, scratch)
        (scratch / "training.json").write_text(json.dumps(
            {"recipe": RECIPE, "questions": len(items), "training_file": str(training), "base": str(base),
             "epoch_loss": losses}, indent=1))
        try:
            scratch.rename(folder)
        except OSError:  # another process finished first: keep its model
            if not (folder / "training.json").exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"Trained in {time.perf_counter() - started:.0f} s; saved to {folder}.", file=sys.stderr, flush=True)
    return folder


def fine_tune(base: Path, items: Sequence[TrainingQuestion], out: Path) -> list[float]:
    """Fine-tune the sentence-transformers model at ``base`` on ``items``; save it to ``out``.
    Returns the mean loss of each epoch (it should fall)."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - both are core dependencies
        raise ModelUnavailableError(
            f"Training the patient-wording model needs {exc.name}; run `make install`."
        ) from exc
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the weights bars would bury the progress line
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    threads = torch.get_num_threads()
    torch.set_num_threads(RECIPE["threads"])
    try:
        return _train(torch, SentenceTransformer(str(base), device="cpu"), items, out)
    finally:
        torch.set_num_threads(threads)


def _train(torch: Any, model: Any, items: Sequence[TrainingQuestion], out: Path) -> list[float]:
    rng = random.Random(RECIPE["seed"])
    torch.manual_seed(RECIPE["seed"])
    sentences = sorted({g for item in items for g in item.gold})
    row = {s: i for i, s in enumerate(sentences)}
    gold = [sorted(row[g] for g in item.gold) for item in items]
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=RECIPE["learning_rate"])

    def embed(texts: list[str]) -> Any:
        features = model.preprocess(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    order = list(range(len(items)))
    losses: list[float] = []
    for _ in range(RECIPE["epochs"]):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), RECIPE["batch"]):
            batch = order[start: start + RECIPE["batch"]]
            positives = [rng.choice(gold[i]) for i in batch]
            taken = {s for i in batch for s in gold[i]}
            pool = [s for s in range(len(sentences)) if s not in taken]
            candidates = positives + rng.sample(pool, min(RECIPE["negatives"], len(pool)))
            scores = embed([items[i].question for i in batch]) @ embed([sentences[s] for s in candidates]).T
            # subtle: another answering sentence of the same question is not a wrong answer
            also_right = torch.tensor([[c != r and s in gold[i] for c, s in enumerate(candidates)]
                                       for r, i in enumerate(batch)])
            logits = (scores / RECIPE["temperature"]).masked_fill(also_right, -1e4)
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        losses.append(round(total / len(order), 4))
    model.eval()
    model.save(str(out))
    return losses
