"""Tune how long an extractive answer is and what it prefers, on the tune split only.

Each tune question with gold sentences is triaged, scoped and retrieved once; then every
combination of the grid below composes its answer (and the tier shapes it, as in the
product). For each combination it prints:

- coverage: share of questions whose answer quotes a gold sentence (a declined one does not);
- first: of the covered answers, the share whose first sentence is a gold sentence;
- off: share of answers with a sentence that is not gold (the proxy for "off topic";
  gold lists every sentence that answers, so a non-gold sentence adds nothing asked for);
- sentences: mean sentences per answer.

Coverage alone rewards length, so the choice weighs coverage against off; the winner by
``coverage - OFF_WEIGHT * off`` is marked, and the table shows the whole trade-off.

    .venv/bin/python benchmarks/tune_compose.py --index .assistant/index
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from assistant.answering.base import units_of

from assistant.answering.extractive import ExtractiveAnswerer, Preferences
from assistant.config import Settings
from assistant.evaluation.suites import discover
from assistant.pipeline import Assistant
from assistant.schema import Answer
from assistant.text import fold

OFF_WEIGHT = 0.5
GRID = {
    "single": (2, 3, 4),
    "spread": (0.05, 0.07, 0.1, 0.15),
    "list_spread": (0.3,),
    "max_sentences": (5,),
    "name": (1.0,),
    "story": (1.0,),
    "phase": (1.0,),
    "lead_in": (0.2, 0.35, 1.0),
}


@dataclass
class Tally:
    cases: int = 0
    covered: int = 0
    first: int = 0
    answered: int = 0
    off: int = 0
    sentences: int = 0

    def row(self) -> tuple[float, float, float, float]:
        return (self.covered / max(1, self.cases), self.first / max(1, self.covered),
                self.off / max(1, self.answered), self.sentences / max(1, self.answered))


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", fold(text)).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=".assistant/index")
    parser.add_argument("--evals", default="evals")
    args = parser.parse_args()
    assistant = Assistant.load(Settings.resolve(flags={"index_dir": Path(args.index)}))
    suites = discover(Path(args.evals))
    prepared = []
    declined = 0
    for suite in suites:
        for case in suite.cases:
            if case.split == "test" or not case.gold or case.history or "answers" not in case.kinds:
                continue
            ready = assistant.prepare(case.question, case.history)
            if isinstance(ready, Answer):
                declined += 1
                continue
            prepared.append((ready, [norm(g) for g in case.gold]))
    total = len(prepared) + declined
    print(f"{total} tune questions with gold ({declined} declined before composing, counted as not covered)")
    results = []
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        p = dict(zip(keys, values))
        answerer = ExtractiveAnswerer(0.0, p["max_sentences"], diversity=assistant.settings.diversity,
                                      spread=p["spread"], single=p["single"], list_spread=p["list_spread"],
                                      preferences=Preferences(p["name"], p["story"], p["phase"], p["lead_in"]))
        tally = Tally(cases=total)
        for (index, triage, evidence, decision), gold in prepared:
            composed = assistant.shaper.shape(answerer.compose(evidence), evidence, triage.level)
            units = [norm(u.text) for u in units_of(composed)]
            if not units:
                continue
            is_gold = [any(g in u or u in g for g in gold) for u in units]
            tally.answered += 1
            tally.sentences += len(units)
            tally.off += not all(is_gold)
            if any(is_gold):
                tally.covered += 1
                tally.first += is_gold[0]
        results.append((p, tally.row()))
    best = max(results, key=lambda r: r[1][0] - OFF_WEIGHT * r[1][2])
    print(" ".join(f"{k:>12}" for k in keys) + "   coverage  first    off  sentences")
    for p, (cov, first, off, sent) in sorted(results, key=lambda r: -(r[1][0] - OFF_WEIGHT * r[1][2]))[:60]:
        mark = "  <- best" if p == best[0] else ""
        print(" ".join(f"{p[k]:>12}" for k in keys) + f"   {cov:8.3f} {first:6.3f} {off:6.3f} {sent:9.2f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
