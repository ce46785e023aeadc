"""The semantic layer: each sentence of a message against a bank of labelled phrasings per signal.

The bank (``data/redflag_bank.yaml``) holds, for each rule id, ``examples`` (a
patient reporting the sign now, in many registers) and ``counterexamples`` (the
same words not reporting it: negated, over, hypothetical, someone else's). A
sentence escalates to a rule's tier when its nearest example is that rule's,
at cosine ``threshold`` or more, and no counterexample comes within ``margin``
of it. The layer can only raise a tier: the rules decide first.

It needs an encoder, so it is off in ``triage()`` and on in the product, which
passes its embedding model (numpy is imported only then).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import DataFileError
from assistant.home import Home
from assistant.safety.rules import REVIEW, Rules, load_yaml

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.safety.engine import Triager

__all__ = ["DEFAULT_BANK", "Bank", "Match", "SemanticLayer", "semantic_triager"]

DEFAULT_BANK = Path(__file__).resolve().parents[1] / "data" / "redflag_bank.yaml"
DEFAULT_CACHE = Home.of(None).triage  # the home folder (assistant.home); the pipeline passes its own
_PROBE = "my lips are swelling and I have a fever"
log = logging.getLogger(__name__)
Encoder = Callable[[list[str]], Any]  # texts -> a (n, d) array of unit vectors
_SENTENCE = re.compile(r"[^.!?;\n]+")
_WORD = re.compile(r"\S+")
# A run-on sentence is read in windows of this many words, overlapping by half,
# so a sign in the middle of a long, unpunctuated message is not diluted.
WINDOW_WORDS = 32
# At most this many distinct sentences are embedded per message (a pasted
# 20,000-character account is mostly repetition); the rules still read it all.
MAX_SENTENCES = 64
MIN_WORDS = 2


@dataclass(frozen=True)
class Bank:
    """Labelled phrasings: ``examples[rule_id]`` report the sign; ``counterexamples[rule_id]`` and ``normal`` do not."""

    examples: dict[str, tuple[str, ...]]
    counterexamples: dict[str, tuple[str, ...]]
    normal: tuple[str, ...]  # the normal course and general questions: counterexamples to every signal
    fingerprint: str

    @classmethod
    def from_file(cls, rules: Rules, path: Path | None = None) -> Bank:
        path = Path(path) if path is not None else DEFAULT_BANK
        data = load_yaml(path, "Red-flag phrasing bank")
        where = f"Red-flag phrasing bank {path}"
        allowed = {"version", "signals", "normal", *REVIEW}
        if not isinstance(data, dict) or not {"version", "signals"} <= set(data) <= allowed or data["version"] != 1:
            raise DataFileError(f"{where}: the top level must be 'version: 1', 'signals:' and optionally 'normal:', "
                                f"{' and '.join(REVIEW)}. Fix the file.")
        normal = data.get("normal") or []
        if not isinstance(normal, list) or not all(isinstance(t, str) and t.strip() for t in normal):
            raise DataFileError(f"{where}: normal must be a list of non-empty sentences.")
        ids = {r.id for r in rules.rules}
        examples: dict[str, tuple[str, ...]] = {}
        counter: dict[str, tuple[str, ...]] = {}
        seen: dict[str, str] = {}
        for rid, body in (data["signals"] or {}).items():
            if rid not in ids:
                raise DataFileError(f"{where}: signal {rid!r} is not a rule id in {rules.path.name}. "
                                    "Use a rule's id, or add the rule first.")
            if not isinstance(body, dict) or set(body) - {"examples", "counterexamples"} or "examples" not in body:
                raise DataFileError(f"{where}: signal {rid!r} must have 'examples' and may have 'counterexamples', "
                                    "nothing else.")
            for key, out in (("examples", examples), ("counterexamples", counter)):
                texts = body.get(key) or []
                if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
                    raise DataFileError(f"{where}: {rid}.{key} must be a list of non-empty sentences.")
                for text in texts:
                    key_text = " ".join(text.lower().split())
                    if key_text in seen:
                        raise DataFileError(f"{where}: {text!r} appears twice ({seen[key_text]} and {rid}.{key}). "
                                            "Keep one.")
                    seen[key_text] = f"{rid}.{key}"
                out[rid] = tuple(t.strip() for t in texts)
        for text in normal:
            key_text = " ".join(text.lower().split())
            if key_text in seen:
                raise DataFileError(f"{where}: {text!r} appears twice ({seen[key_text]} and normal). Keep one.")
            seen[key_text] = "normal"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return cls(examples, counter, tuple(t.strip() for t in normal), digest)


@dataclass(frozen=True)
class Match:
    rule_id: str
    sentence: str
    score: float
    example: str


def sentences_of(text: str) -> list[str]:
    """The distinct sentences of ``text`` (long ones as overlapping windows), at most MAX_SENTENCES.

    >>> sentences_of("day 1. all fine. day 1.")
    ['day 1', 'all fine']
    """
    out: dict[str, None] = {}
    for m in _SENTENCE.finditer(text):
        words = _WORD.findall(m.group(0))
        if len(words) < MIN_WORDS:
            continue
        step = WINDOW_WORDS // 2
        starts = range(0, max(1, len(words) - step), step) if len(words) > WINDOW_WORDS else (0,)
        for start in starts:
            out.setdefault(" ".join(words[start:start + WINDOW_WORDS]), None)
            if len(out) >= MAX_SENTENCES:
                return list(out)
    return list(out)


def _bank_vectors(texts: list[str], encode: Encoder, fingerprint: str, cache_dir: Path | None) -> Any:
    """The bank's vectors, cached on disk per model and bank (embedding them takes seconds).

    subtle: the cache key includes a probe sentence's vector, so two models, or a
    test's hashing embedder, can never share an entry even under one model name."""
    import numpy as np

    if cache_dir is None:
        return np.asarray(encode(texts), dtype=np.float32)
    probe = np.asarray(encode([_PROBE]), dtype=np.float32).round(4).tobytes()
    key = hashlib.sha256(probe + fingerprint.encode() + "\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir.expanduser() / f"bank-{key}.npy"
    try:
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    except (OSError, ValueError):
        pass  # absent or unreadable: embed again
    vectors = np.asarray(encode(texts), dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with partial.open("wb") as out:
            np.save(out, vectors)
        os.replace(partial, path)
    except OSError as exc:  # a read-only home still answers, it only re-embeds next start
        log.info("could not cache the triage phrasing vectors at %s: %s", path, exc)
    return vectors


class SemanticLayer:
    """Nearest-phrasing matching of a message's sentences; raises only."""

    def __init__(self, bank: Bank, encode: Encoder, threshold: float, margin: float,
                 cache_dir: Path | None = DEFAULT_CACHE) -> None:
        import numpy as np

        self._np = np
        self.bank = bank
        self.encode = encode
        self.threshold = threshold
        self.margin = margin
        self._labels = [(rid, text) for rid, texts in bank.examples.items() for text in texts]
        counter = [text for texts in bank.counterexamples.values() for text in texts] + list(bank.normal)
        vectors = _bank_vectors([t for _, t in self._labels] + counter, encode, bank.fingerprint, cache_dir)
        self._examples = vectors[: len(self._labels)]
        self._counter = vectors[len(self._labels):]

    def matches(self, text: str, also_encode: Sequence[str] = ()) -> list[Match]:
        """Every sentence of ``text`` whose nearest example clears the threshold and the counterexamples.

        ``also_encode`` rides along in the same encoder batch (the caller's next texts)."""
        sentences = sentences_of(text)
        if not sentences:
            return []
        np = self._np
        vectors = np.asarray(self.encode([*sentences, *also_encode]), dtype=np.float32)[: len(sentences)]
        sims = vectors @ self._examples.T
        best = sims.argmax(axis=1)
        near_counter = (vectors @ self._counter.T).max(axis=1) if len(self._counter) else np.full(len(sentences), -1.0)
        found = []
        for i, sentence in enumerate(sentences):
            score = float(sims[i, best[i]])
            if score >= self.threshold and score >= float(near_counter[i]) + self.margin:
                rid, example = self._labels[int(best[i])]
                found.append(Match(rid, sentence, round(score, 3), example))
        return found

    def scores(self, texts: Sequence[str]) -> list[tuple[str, float, float]]:
        """(nearest rule id, its score, nearest counterexample score) per sentence: for tuning."""
        np = self._np
        vectors = np.asarray(self.encode(list(texts)), dtype=np.float32)
        sims = vectors @ self._examples.T
        best = sims.argmax(axis=1)
        counter = (vectors @ self._counter.T).max(axis=1)
        return [(self._labels[int(b)][0], float(sims[i, b]), float(counter[i])) for i, b in enumerate(best)]


def semantic_triager(triager: Triager, encode: Callable[[list[str]], Any], settings: Settings) -> Triager:
    """``triager`` with its semantic layer on, reading with the product's embedding model;
    without it (and a log line) when the model cannot embed: the other layers still read."""
    if triager.bank is None or triager.semantic is not None or settings.semantic_threshold >= 1.0:
        return triager
    try:
        return triager.with_semantic(encode, settings.semantic_threshold, settings.semantic_margin,
                                     Home.of(settings.home).triage)
    except Exception as exc:  # noqa: BLE001 - a model that fails here must not stop triage
        log.warning("The semantic triage layer is off: the embedding model failed (%s). Rules, spelling and "
                    "languages still triage every message; run `assistant ingest` to check the model.", exc)
        return triager
