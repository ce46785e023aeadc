"""The torch backend: a sentence-transformers model on the CPU."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import Embeddings

from assistant.errors import ModelUnavailableError
from assistant.index.embedding.names import resolve_model

__all__ = ["SentenceTransformerEmbedder"]


class SentenceTransformerEmbedder(Embeddings):
    """A sentence-transformers model on the CPU, through langchain's HuggingFaceEmbeddings."""

    def __init__(self, name: str, batch_size: int = 32, home: Path | None = None) -> None:
        path = resolve_model(name, home)
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
