"""``assistant setup``: make the embedding model ready, once, in the open.

The default model is the bundled MiniLM fine-tuned on the patients' questions
that ship with the package (assistant.index.embedding.finetune). It is trained on this machine
the first time, then exported to ONNX; both are kept in the home folder
(assistant.home). ``make install`` runs this step, and every command that needs
the model runs it first when it is still to do, so the work is never a silent
pause inside another step.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from assistant.config import Settings


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    p = sub.add_parser("setup", help="train and export the default embedding model (once; about a minute on 2 cores)")
    common(p)
    return p


def prepare(settings: Settings, stream: TextIO | None = None) -> None:
    """Train and export ``settings.model`` into ``settings.home`` where that is still to do,
    with progress and timings on ``stream``; nothing is printed when it is ready."""
    from assistant.index.embedding import finetune
    from assistant.index.embedding import load_embedder, needs_export, needs_training, resolve_model
    from assistant.progress import Bar

    out = stream or sys.stderr
    if needs_training(settings.model, settings.home):
        count = len(finetune.read_training(finetune.TRAINING_FILE))
        total = finetune.steps(count)
        estimate = math.ceil(total * finetune.SECONDS_PER_STEP / 10) * 10
        print(f"Training the patient-wording model on {count} patients' questions. This happens once; "
              f"about {estimate} s on 2 cores (more when other work shares them).", file=out, flush=True)
        bar = Bar("Training", total, "step", out)
        started = time.perf_counter()
        try:
            folder = resolve_model(settings.model, settings.home, bar.update)
        finally:
            bar.close()
        print(f"Trained in {time.perf_counter() - started:.0f} s; saved to {folder}.", file=out, flush=True)
    if needs_export(settings.model, settings.home):
        print(f"Exporting {settings.model} to ONNX (once; a few seconds) ...", file=out, flush=True)
        started = time.perf_counter()
        load_embedder(settings.model, home=settings.home)
        print(f"Exported in {time.perf_counter() - started:.0f} s.", file=out, flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    prepare(settings, sys.stdout)
    from assistant.index.ingest import location_of

    print(f"The model {settings.model} is ready (home folder {settings.home}).")
    if location_of(settings).current() is None:
        print("Next: build the index from your articles with `assistant ingest --corpus FOLDER`.")
    return 0
