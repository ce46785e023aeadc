"""The patient-wording model: the bundled MiniLM fine-tuned on the labelled questions.

The bundled all-MiniLM-L6-v2 puts "my face is still red 3 days later is that
ok" far from "...if you notice that the redness persists for more than 48
hours...", the sentence that answers it. The labelled questions under
``evals/`` pair exactly such wording with the source sentences that answer it;
their tune split ships with the package as ``data/training_questions.jsonl``.
This module fine-tunes the model on those pairs, once (``assistant setup``),
and caches the result in the home folder (assistant.home)::

    <home>/models/all-minilm-l6-v2-patients-<fingerprint>/

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
import math
import random
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import DATA_DIR
from assistant.errors import DataFileError, ModelUnavailableError

TUNED_NAME = "all-minilm-l6-v2-patients"
# Package data: the answerable, single-turn questions of the eval sets' tune split with the
# sentences that answer them, written by `python -m assistant.evaluation.training`.
TRAINING_FILE = DATA_DIR / "training_questions.jsonl"
# subtle: the thread count is part of the recipe: float sums split over a different number of
# threads round differently, and a model trained on a 16-core machine would not be this one.
RECIPE = {"version": 1, "epochs": 3, "learning_rate": 3e-5, "batch": 16, "negatives": 64,
          "temperature": 0.05, "seed": 0, "threads": 2}
# Measured on a quiet 2-core machine: 21 steps in 55 s (README "First run"); the estimate
# printed before training. Other work on the same cores makes it longer (152 s seen).
SECONDS_PER_STEP = 2.6
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainingQuestion:
    question: str
    gold: tuple[str, ...]


def read_training(path: Path) -> list[TrainingQuestion]:
    """The training questions of a JSONL file: one ``{"question": str, "gold": [str, ...]}`` per line.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    >>> _ = f.write('{"question": "red on day 3?", "gold": ["Redness fades."]}' + chr(10))
    >>> _ = f.write('{"question": "bumps?", "gold": ["Pimples."]}' + chr(10)); f.close()
    >>> read_training(Path(f.name))[0]
    TrainingQuestion(question='red on day 3?', gold=('Redness fades.',))
    >>> os.unlink(f.name)
    """
    _require(path)
    items: list[TrainingQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, gold = row["question"].strip(), tuple(row["gold"])
            if not question or not gold or not all(isinstance(g, str) and g.strip() for g in gold):
                raise ValueError("a question and at least one answering sentence are needed")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataFileError(f"{path} line {number} is not a training question ({exc}). Each line is "
                                '{"question": "...", "gold": ["the sentence that answers it"]}.') from None
        items.append(TrainingQuestion(question, gold))
    if len({g for item in items for g in item.gold}) < 2:
        raise DataFileError(
            f"{path} has too few training questions to train the patient-wording model on "
            f"(it needs at least two different answering sentences). Add some, or use --model all-MiniLM-L6-v2@onnx."
        )
    return items


def _require(path: Path) -> None:
    if not path.is_file():
        raise ModelUnavailableError(
            f"The patient-wording model is trained from {path}, which was not found. Reinstall the package "
            f"(`make install`), or use the bundled model: --model all-MiniLM-L6-v2@onnx."
        )


def steps(count: int) -> int:
    """Optimiser steps to train on ``count`` questions: what the progress bar counts."""
    return RECIPE["epochs"] * math.ceil(count / RECIPE["batch"])


def fingerprint(training: Path) -> str:
    """Changes when the training questions or the recipe change; cheap (no model is loaded)."""
    digest = hashlib.sha256(training.read_bytes())
    digest.update(json.dumps(RECIPE, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def model_folder(training: Path, cache_dir: Path) -> Path:
    """Where the model trained on ``training`` lives (or will)."""
    return cache_dir.expanduser() / f"{TUNED_NAME}-{fingerprint(training)}"


def trained(training: Path, cache_dir: Path) -> Path | None:
    """The cached model folder for ``training``, or None when it has not been trained yet."""
    folder = model_folder(training, cache_dir)
    return folder if (folder / "training.json").exists() else None


def tuned_model(base: Path, training: Path, cache_dir: Path, progress: Progress | None = None) -> Path:
    """The cached fine-tuned model folder for ``training``, trained first if it is not there yet.

    Trained into a temporary folder and renamed into place, so an interrupted
    run leaves nothing half-written and two processes both end with a model.
    ``progress(done, total)`` is called after each optimiser step.
    """
    _require(training)  # says what to do, even when a model is cached
    folder = model_folder(training, cache_dir)
    if (folder / "training.json").exists():
        return folder  # subtle: the questions are parsed (about 50 ms) only to train, never at a start
    items = read_training(training)
    scratch = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        losses = fine_tune(base, items, scratch, progress)
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
    return folder


def fine_tune(base: Path, items: Sequence[TrainingQuestion], out: Path, progress: Progress | None = None) -> list[float]:
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
        return _train(torch, SentenceTransformer(str(base), device="cpu"), items, out, progress)
    finally:
        torch.set_num_threads(threads)


def _train(torch: Any, model: Any, items: Sequence[TrainingQuestion], out: Path,
           progress: Progress | None = None) -> list[float]:
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
    done, total = 0, steps(len(items))
    for _ in range(RECIPE["epochs"]):
        rng.shuffle(order)
        epoch_loss = 0.0
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
            epoch_loss += loss.item() * len(batch)
            done += 1
            if progress is not None:
                progress(done, total)
        losses.append(round(epoch_loss / len(order), 4))
    model.eval()
    model.save(str(out))
    return losses
