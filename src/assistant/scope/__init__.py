"""Scope: what the sources cover of a question, decided in one place.

Every question gets one decision (``schema.ScopeDecision``):

- ``refuse``: a request to act that no source can make safe (a dose, a
  prescription, a document, a diagnosis), told before retrieval (``requests``);
- ``not covered``: the retrieved sentences do not answer it (``answerable``):
  the assistant says so, names what its sources never mention, and points to
  the nearest thing they do cover;
- ``partial``: one part of the question is answered and the other is named as
  not covered;
- ``answer``.

What a corpus is about comes from the corpus (``subject``, kept in the index
manifest), so swapping the articles for another procedure's moves the scope
with them. Triage runs before all of this and its notice is never changed here.

>>> scope = Scope.from_files()
>>> scope.refusal("can i double my amoxicillin?").decision
'refuse'
>>> corpus = CorpusScope(Subject(("microneedling",), "microneedling"), CorpusTerms.from_vocabulary({"redness": 2, "normal": 3}, 4))
>>> scope.words("is the redness normal after microneedling, or is it my router", corpus).unknown
('router',)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.config import DATA_DIR, Settings, data_file, tuning
from assistant.schema import ScopeDecision
from assistant.scope.answerable import QuestionWords, Weights, features, question_words
from assistant.scope.requests import Requests
from assistant.scope.subject import Subject, derive_subject
from assistant.scope.terms import TOPICAL, CorpusTerms, is_content, specificity
from assistant.text import words
from assistant.safety.spelling import english_counts

if TYPE_CHECKING:
    from assistant.index.derived import Derived

__all__ = ["CorpusScope", "Scope", "Subject", "derive_subject"]

# A part of a question is not covered when at least this share of its weight is
# words no passage uses, and covered when none of it is.
PART_UNKNOWN = 0.5
# The nearest section is named only when the closest sentence is at least this close.
NEAREST_MIN = 0.3
MAX_NAMED_WORDS = 3
# A word in the subject's slot counts as another procedure from this specificity ("shaving" does not).
OTHER_SUBJECT_SPECIFICITY = 0.35


# At most this many of a corpus's words (the most used first) are embedded, at each
# start, to tell how close a question's unknown word comes to what the passages say.
MAX_VOCABULARY = 5_000
Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass
class CorpusScope:
    """What one loaded index covers: its subject (from the manifest) and its words."""

    subject: Subject
    terms: CorpusTerms
    vocabulary: tuple[str, ...] = ()  # the topical words whose embeddings ``relatedness`` compares with
    _vectors: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, manifest: Mapping[str, Any], passages_per_word: Mapping[str, int], passages: int,
           titles_and_texts: Callable[[], tuple[list[str], list[str]]]) -> CorpusScope:
        """From the manifest's subject; an index built before it was recorded derives it from its passages."""
        recorded = manifest.get("scope", {}).get("subject")
        subject = Subject.from_dict(recorded) if recorded is not None else derive_subject(*titles_and_texts())
        topical = [w for w in passages_per_word if len(w) > 2 and is_content(w) and specificity(w) >= TOPICAL]
        topical.sort(key=lambda w: (-passages_per_word[w], w))
        return cls(subject, CorpusTerms.from_vocabulary(passages_per_word, passages), tuple(topical[:MAX_VOCABULARY]))

    @classmethod
    def of_index(cls, manifest: Mapping[str, Any], derived: Derived) -> CorpusScope:
        """What one index generation covers: its manifest's subject, its BM25 vocabulary."""
        per_row = np.diff(derived.bm25.matrix.indptr)
        per_word = {word: int(per_row[row]) for word, row in derived.bm25.vocabulary.items()}

        def titles_and_texts() -> tuple[list[str], list[str]]:
            docs = manifest.get("documents", {})
            texts: dict[str, list[str]] = {}
            for chunk in derived.chunks:
                texts.setdefault(chunk.doc_id, []).append(chunk.text)
            return [str(docs.get(d, {}).get("title", "")) for d in texts], [" ".join(t) for t in texts.values()]

        return cls.of(manifest, per_word, len(derived.chunks), titles_and_texts)

    def prepare(self, encode: Encode) -> None:
        """Embed the corpus's words once (a second or two for a corpus of a few thousand words)."""
        if self._vectors is None:
            self._vectors = encode(list(self.vocabulary)) if self.vocabulary else np.zeros((0, 1), np.float32)

    def relatedness(self, found: Sequence[str], encode: Encode) -> dict[str, float]:
        """For each word, its highest cosine with a word of the corpus."""
        if not found:
            return {}
        self.prepare(encode)
        assert self._vectors is not None
        if not len(self._vectors):
            return {w: 0.0 for w in found}
        best = (np.asarray(encode(list(found)), dtype=np.float32) @ self._vectors.T).max(axis=1)
        return {w: float(b) for w, b in zip(found, best)}


@dataclass(frozen=True)
class ScopeTexts:
    not_covered: str
    not_covered_words: str
    about: str
    nearest: str
    ask: str
    partial: str


@dataclass
class Scope:
    requests: Requests
    weights: Weights
    texts: ScopeTexts
    breaks: tuple[re.Pattern[str], ...]
    is_synonym: Callable[[str], bool] = field(default=lambda _: False)

    @classmethod
    def from_files(cls, path: Path | None = None, threshold: float | None = None,
                   is_synonym: Callable[[str], bool] | None = None) -> Scope:
        path = path or DATA_DIR / "scope.yaml"
        tuned = tuning()
        if threshold is None:
            threshold = float(tuned.get("defaults", {}).get("scope_threshold", Settings().scope_threshold))
        weights = Weights.from_table(tuned.get("scope", {}), threshold)
        fix = ("It needs requests (each with a name, a text, and all_of or patterns), medicine_words, "
               "part_breaks and texts (see the comments in the bundled file).")
        with data_file(path, "Scope rules", fix) as data:
            requests = Requests.from_data(data)
            texts = ScopeTexts(**{k: " ".join(str(v).split()) for k, v in data["texts"].items()})
            breaks = tuple(re.compile(p, re.IGNORECASE) for p in data["part_breaks"])
        return cls(requests, weights, texts, breaks, is_synonym or (lambda _: False))

    # -- the decisions -----------------------------------------------------

    def refusal(self, message: str, earlier: str = "") -> ScopeDecision | None:
        """``refuse`` with the kind of request and the reason to show, or None (``earlier``:
        the exchange before it, which may name the medicine a request is about)."""
        kind = self.requests.match(message, earlier)
        if kind is None:
            return None
        return ScopeDecision("refuse", reason=kind.name, note=kind.text)

    def words(self, message: str, corpus: CorpusScope) -> QuestionWords:
        return question_words(message, corpus.subject, corpus.terms, self.is_synonym)

    def decide(self, message: str, corpus: CorpusScope, sentences: Sequence[str], dense: Sequence[float],
               encode: Encode, context: str = "", quiet: bool = False) -> ScopeDecision:
        """``answer``, ``partial`` or ``not covered`` for ``message``, from the retrieved ``sentences``
        and each one's cosine ``dense`` with the query (``encode`` embeds words). ``context`` is the
        earlier turn a follow-up leans on ("so what should I do?"); ``quiet`` (a red flag was
        found) keeps the user's words out of the reply and answers no question in part."""
        whole = self.words(message, corpus)
        if not whole.words and context:
            whole = self.words(f"{context} {message}", corpus)
        if not whole.words and corpus.subject.strip(message) == message.strip():
            # Nothing said what it is about ("ok", "???", or a script the English reading skips);
            # "is microneedling safe?" names the subject itself and goes on to the model.
            return ScopeDecision("not covered", reason="the message names nothing the sources could be asked about")
        other = self.other_subject(message, whole, corpus)
        if other:
            return ScopeDecision("not covered", reason=f"asks about {_named([other])}; the sources are about "
                                 f"{corpus.subject.name}", uncovered=() if quiet or other in unsayable(message) else (other,))
        related = corpus.relatedness(whole.foreign, encode)
        found = features(whole, sentences, dense, related)
        score = self.weights.probability(found)
        parts = [self.words(p, corpus) for p in self.parts(message)]
        uncovered = [p for p in parts if p.foreign and p.unknown_share >= PART_UNKNOWN]
        covered = [p for p in parts if p.words and not p.unknown]
        if len(parts) > 1 and uncovered and covered and not quiet:
            # Asked two things: the covered part is judged on its own words.
            words_of_covered = self.words(" ".join(" ".join(p.words) for p in covered), corpus)
            part_score = self.weights.probability(features(words_of_covered, sentences, dense, related))
            private = unsayable(message)
            missing = tuple(dict.fromkeys(w for p in uncovered for w in p.foreign if nameable(w, private)))
            if part_score >= self.weights.threshold and missing:
                return ScopeDecision("partial", reason="one part of the question is not in the sources",
                                     uncovered=missing, score=part_score, features=found,
                                     note=self.texts.partial.replace("{words}", _named(missing)))
        if score >= self.weights.threshold:
            return ScopeDecision("answer", reason="the retrieved sentences answer it", score=score, features=found)
        named = () if quiet else tuple(w for w in whole.foreign if nameable(w, unsayable(message)))
        reason = (f"names {_named(whole.foreign)}, which no source mentions" if whole.foreign
                  else "the retrieved sentences do not answer it")
        return ScopeDecision("not covered", reason=reason, uncovered=named, score=score, features=found)

    def other_subject(self, message: str, question: QuestionWords, corpus: CorpusScope) -> str:
        """A specific word no passage uses, standing where the corpus's subject would
        ("is swelling normal after microneedling" asked of filler leaflets): the question is
        about another procedure. Empty when there is none."""
        tokens = corpus.terms.joined(words(message))
        for i in corpus.subject.in_its_slot(tokens, corpus.terms.knows):
            if tokens[i] in question.foreign and specificity(tokens[i]) >= OTHER_SUBJECT_SPECIFICITY:
                return tokens[i]
        return ""

    def parts(self, message: str) -> list[str]:
        """``message`` cut where it starts asking something else."""
        pieces = [message]
        for pattern in self.breaks:
            pieces = [q for p in pieces for q in pattern.split(p) if q is not None]
        return [p.strip() for p in pieces if p and p.strip() and len(p.split()) >= 2]

    # -- what is said ------------------------------------------------------

    def not_covered_text(self, decision: ScopeDecision, corpus: CorpusScope, nearest: str | None,
                         closeness: float) -> str:
        """The abstention: what is not covered, what the sources are about and nearest to, whom to ask."""
        t = self.texts
        said = [t.not_covered_words.replace("{words}", _named(decision.uncovered)) if decision.uncovered
                else t.not_covered]
        if corpus.subject.name:
            said.append(t.about.replace("{subject}", corpus.subject.name))
        if nearest and closeness >= NEAREST_MIN:
            said.append(t.nearest.replace("{nearest}", nearest))
        said.append(t.ask)
        return " ".join(said)


# Only these words of the user's are said back: an English word, specific enough to be a
# topic, that the user did not capitalise mid-sentence (a name) or write in an address.
NAMEABLE_SPECIFICITY = 0.3
_ADDRESS = re.compile(r"\S*(?:@|://|www\.)\S*", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


def unsayable(message: str) -> frozenset[str]:
    """The words of ``message`` never to repeat: those of an e-mail or web address, and names
    (capitalised words that do not start a sentence)."""
    found = {w for address in _ADDRESS.findall(message) for w in words(address)}
    found |= {m.group(0).lower() for m in _CAPITALISED.finditer(message.strip())}
    return frozenset(found)


def nameable(word: str, private: frozenset[str] = frozenset()) -> bool:
    return word not in private and word in english_counts() and specificity(word) >= NAMEABLE_SPECIFICITY


def _named(words: Sequence[str]) -> str:
    """“a”, “b” and “c”: the first few words, quoted."""
    quoted = [f"“{w}”" for w in list(words)[:MAX_NAMED_WORDS]]
    if not quoted:
        return "this"
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"

