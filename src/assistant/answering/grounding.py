"""The grounding check for generated answers. Pure functions: no model, no I/O but the pairs file.

A language model may phrase an answer; it may not add to it. ``check`` takes
the model's text and the numbered passages it was shown and keeps a sentence
only if

1. it cites at least one passage as ``[n]`` and every ``n`` is in 1..k;
2. it does not tell the user to skip care ("no need to see a doctor",
   "ignore the warning", ...), whatever the passages say; and
3. its content is supported by the passages it cites: ``support`` is the
   share of the sentence's content words found in those passages (after
   light stemming), forced to 0 when the sentence has a number the passages
   do not have (an invented dose or duration), and halved when it flips the
   negation of the passage sentence it borrows most from ("intense pain is
   normal" against "intense pain is not normal").

``SUPPORT_THRESHOLD`` was chosen on the *tune* split of
``data/grounding_pairs.jsonl`` (labelled sentence/passage pairs from the real
corpus) and is reported on its *test* split; ``tests/test_grounding.py``
re-derives both so the figures below cannot drift silently.

>>> report = check("Redness is normal after treatment [1]. You need no doctor [2].",
...                ["Some redness is normal after treatment."])
>>> [d.reason for d in report.dropped], report.kept[0].cites
(['citation out of range'], (1,))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assistant.answering import markers
from assistant.config import DATA_DIR
from assistant.errors import DataFileError
from assistant.safety.notices import default_texts
from assistant.text import function_words, sentences, words

# Chosen on the tune split (max accuracy, ties to the stricter value): tune n=97,
# accuracy 0.979, precision 0.979, recall 0.979 for "supported". On the held-out
# test split (n=69): accuracy 0.899, precision 0.886, recall 0.912.
SUPPORT_THRESHOLD = 0.65
# The test-split figures above, as floors that tests/test_grounding.py enforces.
REPORTED_TEST = {"accuracy": 0.89, "precision": 0.88, "recall": 0.91}
# Below this share of surviving sentences the whole answer is replaced by the extractive one.
MIN_KEPT = 0.5
NEGATION_PENALTY = 0.5
PAIRS_FILE = DATA_DIR / "grounding_pairs.jsonl"

Reason = Literal["no citation", "citation out of range", "discourages care", "unsupported"]

# --- citations --------------------------------------------------------------

# subtle: models write both "normal [1]." and "normal. [1]"; text.sentences only
# splits after terminal punctuation, so markers are moved in front of it first,
# otherwise "normal. [1] Next" would be one sentence citing nothing after "normal.".
_TRAILING = re.compile(r"([.!?])(" + markers.RUN + r")")


def split_cited(text: str) -> list[str]:
    """Sentences of a model answer, each with the markers that belong to it."""
    return [s for _, _, s in sentences(_TRAILING.sub(r"\2\1", text.strip()))]


# --- unsafe advice ----------------------------------------------------------


def discourages_care(sentence: str) -> bool:
    """True for a sentence that tells the user not to seek care or to ignore a warning.

    The patterns are data, reviewed with the other safety texts (data/safety.yaml).
    """
    return default_texts().discourages_care(sentence)


# --- lexical support --------------------------------------------------------

STOPWORDS = function_words("grounding")
NEGATIONS = frozenset(
    "not no never cannot cant without nothing none neither nor t isn aren doesn don didn won wouldn "
    "shouldn couldn wasn weren hasn haven fail failing".split()
)
NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
    "hundred": "100", "twice": "2", "half": "0.5", "single": "1", "once": "1", "dozen": "12",
}  # "one" is left out: it is mostly a pronoun ("one such case").
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def stem(word: str) -> str:
    """A deliberately light stemmer: ``swelling``/``swells`` -> ``swell``, ``allergies`` -> ``allergy``."""
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + repl
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_terms(text: str) -> set[str]:
    """Stemmed content words of a text (stop words and citation markers removed, numbers as digits)."""
    return {stem(NUMBER_WORDS.get(w, w)) for w in words(markers.MARKER.sub(" ", text)) if w not in STOPWORDS}


def numbers(text: str) -> set[str]:
    found = set(_NUMBER.findall(markers.MARKER.sub(" ", text)))
    found |= {NUMBER_WORDS[w] for w in words(markers.MARKER.sub(" ", text)) if w in NUMBER_WORDS}
    return found


def negated(text: str) -> bool:
    return any(w in NEGATIONS for w in words(text))


def best_sentence(claim: str, passage: str) -> str:
    """The passage sentence that shares the most content words with ``claim`` ('' for an empty passage)."""
    terms = content_terms(claim)
    return max((s for _, _, s in sentences(passage)), key=lambda s: len(terms & content_terms(s)), default="")


def support(sentence: str, passage: str) -> float:
    """How well ``passage`` supports ``sentence``, in [0, 1].

    >>> support("Apply sunscreen with SPF 50 [1].", "Apply a sunscreen with at least SPF 30.")
    0.0
    >>> support("Some redness is normal [1].", "Some redness and swelling are normal.")
    1.0
    """
    claim = content_terms(sentence)
    if not claim:
        return 0.0
    if numbers(sentence) - numbers(passage):
        return 0.0
    score = len(claim & content_terms(passage)) / len(claim)
    if negated(markers.strip(sentence)) != negated(best_sentence(sentence, passage)):
        score *= NEGATION_PENALTY
    return score


# --- the check ----------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """A sentence that passed, as the model wrote it, with the passages (1..k) it cites."""

    text: str
    cites: tuple[int, ...]
    support: float


@dataclass(frozen=True)
class Dropped:
    """A sentence removed from the answer, and why."""

    text: str
    reason: Reason
    support: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sentence": self.text, "reason": self.reason,
                "support": None if self.support is None else round(self.support, 3)}


@dataclass(frozen=True)
class GroundingReport:
    """What ``check`` kept and dropped. ``passed`` says whether enough survived to show.

    >>> GroundingReport(kept=(), dropped=(), total=0).passed
    False
    """

    kept: tuple[Kept, ...]
    dropped: tuple[Dropped, ...]
    total: int
    threshold: float = SUPPORT_THRESHOLD
    min_kept: float = MIN_KEPT

    @property
    def passed(self) -> bool:
        return bool(self.kept) and len(self.kept) >= self.min_kept * self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "sentences": self.total,
            "kept": len(self.kept),
            "threshold": self.threshold,
            "dropped": [d.to_dict() for d in self.dropped],
        }


def judge(sentence: str, passages: Sequence[str], threshold: float = SUPPORT_THRESHOLD) -> Kept | Dropped:
    """Decide one sentence against the numbered passages (``passages[0]`` is [1])."""
    cites = markers.cited(sentence)
    if not cites:
        return Dropped(sentence, "no citation")
    if any(not 1 <= n <= len(passages) for n in cites):
        return Dropped(sentence, "citation out of range")
    if discourages_care(sentence):
        return Dropped(sentence, "discourages care")
    score = support(sentence, "\n".join(passages[n - 1] for n in cites))
    if score < threshold:
        return Dropped(sentence, "unsupported", score)
    return Kept(sentence, cites, score)


def check(answer: str, passages: Sequence[str], threshold: float = SUPPORT_THRESHOLD,
          min_kept: float = MIN_KEPT) -> GroundingReport:
    """Check every sentence of ``answer`` against ``passages`` ([1] is ``passages[0]``)."""
    kept: list[Kept] = []
    dropped: list[Dropped] = []
    parts = split_cited(answer)
    for sentence in parts:
        verdict = judge(sentence, passages, threshold)
        (kept if isinstance(verdict, Kept) else dropped).append(verdict)  # type: ignore[arg-type]
    return GroundingReport(tuple(kept), tuple(dropped), len(parts), threshold, min_kept)


# --- labelled pairs and threshold tuning ---------------------------------------


@dataclass(frozen=True)
class Pair:
    sentence: str
    passage: str
    supported: bool
    split: Literal["tune", "test"]
    kind: str = ""


@dataclass(frozen=True)
class Scores:
    threshold: float
    n: int
    accuracy: float
    precision: float  # of "supported" verdicts, how many were right
    recall: float  # of truly supported sentences, how many were kept
    errors: tuple[Pair, ...] = field(default=(), repr=False)


def load_pairs(path: Path | None = None) -> list[Pair]:
    """Read the labelled pairs file, raising DataFileError with the bad line number."""
    path = path or PAIRS_FILE
    pairs: list[Pair] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataFileError(f"Cannot read grounding pairs {path}: {exc}. Restore it from the repository.") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pair = Pair(str(row["sentence"]), str(row["passage"]), bool(row["supported"]), row["split"],
                        str(row.get("kind", "")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataFileError(f"{path}:{number} is not a valid pair ({exc!r}); each line needs "
                                "sentence, passage, supported and split.") from exc
        if pair.split not in ("tune", "test"):
            raise DataFileError(f"{path}:{number}: split must be 'tune' or 'test', not {pair.split!r}.")
        pairs.append(pair)
    return pairs


def evaluate(pairs: Iterable[Pair], threshold: float) -> Scores:
    """Accuracy and precision/recall of the "supported" verdict at ``threshold``."""
    rows = list(pairs)
    tp = fp = fn = 0
    errors: list[Pair] = []
    for pair in rows:
        predicted = support(pair.sentence, pair.passage) >= threshold
        tp += predicted and pair.supported
        fp += predicted and not pair.supported
        fn += (not predicted) and pair.supported
        if predicted != pair.supported:
            errors.append(pair)
    n = len(rows)
    return Scores(
        threshold=threshold,
        n=n,
        accuracy=(n - len(errors)) / n if n else 0.0,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        errors=tuple(errors),
    )


def tune_threshold(pairs: Iterable[Pair], grid: Sequence[float] = tuple(i / 20 for i in range(4, 20))) -> float:
    """The grid value with the best accuracy on ``pairs``; ties go to the stricter (higher) value."""
    scored = [(support(p.sentence, p.passage), p.supported) for p in pairs]

    def accuracy(t: float) -> float:
        return sum((score >= t) == label for score, label in scored) / max(len(scored), 1)

    return max(grid, key=lambda t: (accuracy(t), t))
