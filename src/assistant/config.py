"""Resolved settings: defaults, then environment, then CLI flags.

Only the edges (CLI, app, tests) build a Settings; code deeper in the package
receives it and never reads ``os.environ``.

>>> s = Settings.resolve(env={"ASSISTANT_K": "3"}, flags={"k": 4})
>>> s.k
4
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from assistant.errors import ConfigError, DataFileError
from assistant.home import Home, default_home

DATA_DIR = Path(__file__).parent / "data"
MODES = ("bm25", "dense", "hybrid")
# The bundled model fine-tuned on the tune split's labelled questions
# (assistant.index.embedding.finetune), run with onnxruntime. Test split, hybrid, against the
# bundled model: Recall@5 0.952 vs 0.912, MRR 0.828 vs 0.785, conversation
# coverage 0.839 vs 0.742 (see README "Evaluation"). ONNX against torch:
# identical retrieval (cosine 1.000 between vectors), a third of the
# query-embedding time and a quarter of the cold start (no torch import). The
# model is trained and exported once on first use and cached.
# "all-MiniLM-L6-v2@onnx" (the bundled model as it comes), "...@torch" and
# "...@onnx-int8" remain selectable.
DEFAULT_MODEL = "all-MiniLM-L6-v2-patients@onnx"


@contextmanager
def data_file(path: Path, what: str, fix: str) -> Iterator[Any]:
    """Parse a YAML data file; any error while reading or interpreting it becomes a
    DataFileError naming the file and saying how to fix it.

    >>> with data_file(DATA_DIR / "synonyms.yaml", "Query expansions", "...") as data:
    ...     "expansions" in data
    True
    """
    try:
        yield yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, re.error) as exc:
        raise DataFileError(f"{what} {path} are malformed ({exc!r}). {fix}") from exc


def tuning() -> dict[str, Any]:
    """Calibrated defaults kept as data (see data/tuning.toml for how they were set)."""
    path = DATA_DIR / "tuning.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Restore it from the repository.") from exc


def _tuned(name: str) -> Any:
    """A calibrated default from data/tuning.toml [defaults]: the one source of these values."""
    try:
        return _TUNED[name]
    except KeyError:
        raise ConfigError(f"data/tuning.toml [defaults] has no {name!r}. Restore it from the repository.") from None


_TUNED: dict[str, Any] = tuning().get("defaults", {})
# Settings that hold a folder; the others are converted to their default's type.
PATH_FIELDS = frozenset({"home", "corpus_dir", "index_dir"})


@dataclass(frozen=True)
class Settings:
    """Every setting of the product, with its default. ``Settings()`` is the defaults:
    the same values :meth:`resolve` gives with no environment and no flags.

    ``home`` holds the index, the trained model and the caches (env ASSISTANT_HOME;
    by default the per-user data folder). ``index_dir`` defaults to ``home/index``.
    ``corpus_dir`` is None when none was chosen: ingest then takes the folder the
    index was built from (see assistant.index.ingest.corpus_of).
    """

    home: Path = field(default_factory=default_home)
    corpus_dir: Path | None = None
    index_dir: Path = field(default_factory=lambda: Home.of(None).index)
    model: str = DEFAULT_MODEL
    mode: str = _tuned("mode")
    k: int = _tuned("k")
    chunk_size: int = _tuned("chunk_size")
    # The probability (assistant.scope) from which the sources are taken to answer a question.
    scope_threshold: float = _tuned("scope_threshold")
    # At most this many sentences answer a question that asks for a list ...
    max_sentences: int = _tuned("max_sentences")
    # ... and at most this many one that does not.
    single_sentences: int = _tuned("single_sentences")
    list_spread: float = _tuned("list_spread")
    duplicate_passages: float = _tuned("duplicate_passages")
    diversity: float = _tuned("diversity")
    sentence_spread: float = _tuned("sentence_spread")
    sentence_weight: float = _tuned("sentence_weight")
    lexical_weight: float = _tuned("lexical_weight")
    review_max_age_days: int = 730
    # The semantic triage layer (see data/tuning.toml); 1.0 turns it off.
    semantic_threshold: float = _tuned("semantic_threshold")
    semantic_margin: float = _tuned("semantic_margin")
    answerer: str = "extractive"
    chroma_host: str = ""
    chroma_port: int = 8000
    host: str = "127.0.0.1"
    port: int = 7860

    # Environment variable for each field that may be set from the environment.
    ENV = {
        "home": "ASSISTANT_HOME",
        "corpus_dir": "ASSISTANT_CORPUS",
        "index_dir": "ASSISTANT_INDEX",
        "model": "ASSISTANT_MODEL",
        "mode": "ASSISTANT_MODE",
        "k": "ASSISTANT_K",
        "sentence_weight": "ASSISTANT_SENTENCE_WEIGHT",
        "lexical_weight": "ASSISTANT_LEXICAL_WEIGHT",
        "scope_threshold": "ASSISTANT_SCOPE_THRESHOLD",
        "answerer": "ASSISTANT_ANSWERER",
        "chroma_host": "CHROMA_HOST",
        "chroma_port": "CHROMA_PORT",
    }

    @classmethod
    def resolve(
        cls,
        env: Mapping[str, str] | None = None,
        flags: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Build settings with precedence flags > env > defaults.

        ``flags`` values of ``None`` mean "not given on the command line". A home
        given without an index folder moves the index with it.
        """
        values: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for name, var in cls.ENV.items():
            if env and env.get(var):
                values[name] = env[var]
        for name, value in (flags or {}).items():
            if value is not None and name in known:
                values[name] = value
        if "home" in values and "index_dir" not in values:
            values["index_dir"] = Home.of(Path(values["home"])).index
        return cls()._with(values)

    def _with(self, values: Mapping[str, Any]) -> Settings:
        converted: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in values:
                continue
            raw = values[f.name]
            kind = Path if f.name in PATH_FIELDS else type(getattr(self, f.name))
            try:
                converted[f.name] = Path(raw).expanduser() if kind is Path else kind(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"Setting {f.name}={raw!r} is not a valid {kind.__name__}.") from exc
        settings = replace(self, **converted)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"Unknown retrieval mode {self.mode!r}; choose one of {', '.join(MODES)}.")
        if not 1 <= self.k <= 50:
            raise ConfigError(f"k={self.k} is out of range; use a number from 1 to 50.")
        if not 100 <= self.chunk_size <= 5000:
            raise ConfigError(f"chunk_size={self.chunk_size} is out of range; use 100 to 5000 characters.")
        if not 1 <= self.max_sentences <= 12:
            raise ConfigError(f"max_sentences={self.max_sentences} is out of range; use 1 to 12.")
        for name in ("scope_threshold", "duplicate_passages", "diversity", "sentence_weight", "lexical_weight",
                     "semantic_threshold", "semantic_margin"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} is out of range; use a number from 0 to 1.")
        for name in ("port", "chroma_port"):
            if not 1 <= getattr(self, name) <= 65535:
                raise ConfigError(f"{name}={getattr(self, name)} is not a valid TCP port.")


def _check_tuned() -> None:
    unknown = set(_TUNED) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"Unknown keys {sorted(unknown)} in data/tuning.toml [defaults]. Remove them, "
                          "or restore the file from the repository.")


_check_tuned()
