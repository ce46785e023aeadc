"""Write the patient-wording model's training questions from the eval sets.

    python -m assistant.evaluation.training [evals/questions.jsonl]

The model (assistant.index.embedding.finetune) trains on the answerable, single-turn questions
of the **tune** split, with the sentences that answer them. They ship with the
package as ``data/training_questions.jsonl``, so a wheel installed anywhere can
train it; the eval sets stay under ``evals/``. Run this after editing the tune
split; a test fails while the two disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from assistant.evaluation.suites import load_suite
from assistant.index.embedding.finetune import TRAINING_FILE, TrainingQuestion

QUESTIONS = Path("evals/questions.jsonl")


def training_questions(path: Path) -> list[TrainingQuestion]:
    """The questions of a labelled-questions suite that the model trains on, in file order."""
    return [TrainingQuestion(c.question.strip(), c.gold) for c in load_suite(path).cases
            if c.split == "tune" and c.expect == "answer" and c.gold and not c.history and c.question.strip()]


def to_jsonl(items: list[TrainingQuestion]) -> str:
    return "".join(json.dumps({"question": i.question, "gold": list(i.gold)}, ensure_ascii=False) + "\n"
                   for i in items)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else QUESTIONS
    items = training_questions(source)
    TRAINING_FILE.write_text(to_jsonl(items), encoding="utf-8")
    print(f"Wrote {len(items)} training questions from {source} to {TRAINING_FILE}.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
