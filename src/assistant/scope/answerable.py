"""Whether the retrieved sentences answer a question, not just sound like the domain.

Similarity alone cannot tell "how do I get a red wine stain out of a shirt"
from a question about redness: both are near a sentence about redness. What
separates them is what the question is *about*. Each content word of the
question is weighed by how specific it is in English (``terms.specificity``),
and the features ask of those words:

- ``unknown_share``: how much of the question's weight no passage of the corpus
  uses at all ("stain", "shirt", "minoxidil", or "microneedling" in a corpus about
  peels);
- ``unknown_max``: how specific the most specific such word is (texting
  shorthand such as "lol" left out);
- ``unrelated``: the same, discounted by how close the word's embedding comes to
  a word the passages use ("jawline" is near "face"; "router" is near nothing);
- ``best_share``: how much of the weight the sentences closest to the question use;
- ``dense``: the cosine similarity of the closest sentence.

A logistic model over them, fitted on the tune data (benchmarks/tune_scope.py,
weights in data/tuning.toml), gives the probability that the sources answer.
Nothing here is about one corpus: every fact comes from the passages loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.errors import ConfigError
from assistant.scope.subject import Subject
from assistant.scope.terms import TOPICAL, CorpusTerms, is_chatter, is_content, specificity, stem
from assistant.text import words

FEATURES = ("dense", "unknown_share", "unknown_max", "unrelated", "best_share")
# The sentences closest to the question whose words are compared with it.
BEST_SENTENCES = 3


@dataclass(frozen=True)
class Weights:
    """The fitted logistic model and the probability from which the sources answer."""

    bias: float
    coefficients: Mapping[str, float]
    threshold: float

    @classmethod
    def from_table(cls, table: Mapping[str, float], threshold: float) -> Weights:
        missing = [f for f in ("bias", *FEATURES) if f not in table]
        if missing:
            raise ConfigError(f"The [scope] table of data/tuning.toml lacks {', '.join(missing)}. Restore the file "
                              "from the repository, or refit it with `python benchmarks/tune_scope.py --write`.")
        return cls(float(table["bias"]), {f: float(table[f]) for f in FEATURES}, threshold)

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(self.coefficients[f] * features[f] for f in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class QuestionWords:
    """A question's topical words (the corpus's subject left out), each weighed by its specificity."""

    words: tuple[str, ...]
    weights: tuple[float, ...]
    unknown: tuple[str, ...]  # the words no passage uses
    foreign: tuple[str, ...]  # those of them that are not chatter ("lol"): what the question names

    @property
    def total(self) -> float:
        return sum(self.weights)

    def share(self, present: Callable[[str], bool]) -> float:
        """The weighted share of the words for which ``present`` holds (1.0 with no words)."""
        if not self.words or not self.total:
            return 1.0
        return sum(w for word, w in zip(self.words, self.weights) if present(word)) / self.total

    @property
    def unknown_share(self) -> float:
        return 0.0 if not self.words else 1.0 - self.share(lambda w: w not in self.unknown)


def question_words(text: str, subject: Subject, terms: CorpusTerms,
                   is_synonym: Callable[[str], bool] = lambda _: False) -> QuestionWords:
    """The topical words of ``text``, with those no passage uses (``is_synonym``: a patient's
    word the expansion lexicon maps to the sources' words, such as "zits", counts as used)."""
    found = list(dict.fromkeys(
        w for w in terms.joined(words(text))
        if is_content(w) and not subject.is_subject(w) and specificity(w) >= TOPICAL
    ))
    unknown = tuple(w for w in found if not terms.knows(w) and not is_synonym(w))
    return QuestionWords(tuple(found), tuple(specificity(w) for w in found), unknown,
                         tuple(w for w in unknown if not is_chatter(w)))


def features(question: QuestionWords, sentences: Sequence[str], dense: Sequence[float],
             relatedness: Mapping[str, float]) -> dict[str, float]:
    """The model's inputs, from the retrieved ``sentences`` and each one's cosine ``dense``;
    ``relatedness`` gives each foreign word's closest cosine to a word the passages use
    ("cheek" is close to "face"; "router" is close to nothing)."""
    order = np.argsort(-np.asarray(dense, dtype=np.float32))[:BEST_SENTENCES] if len(dense) else []
    in_best = {stem(w) for i in order for w in words(sentences[int(i)])}
    return {
        "dense": float(max(dense, default=0.0)),
        "unknown_share": question.unknown_share,
        "unknown_max": max((specificity(w) for w in question.foreign), default=0.0),
        "unrelated": max((specificity(w) * (1.0 - relatedness.get(w, 0.0)) for w in question.foreign), default=0.0),
        "best_share": question.share(lambda w: stem(w) in in_best),
    }
