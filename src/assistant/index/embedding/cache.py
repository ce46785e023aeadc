"""Query vectors by text, kept for the next question that needs them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

__all__ = ["VectorCache"]


class VectorCache:
    """Query vectors by text, least recently used dropped first; texts not seen yet are
    embedded in one batch (triage's sentences and the retrieval query together)."""

    def __init__(self, embedder: Embeddings, maxsize: int) -> None:
        self.embedder = embedder
        self.maxsize = maxsize
        self._vectors: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> tuple[float, ...]:
        return tuple(float(x) for x in self.many([text])[0])

    def many(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        # subtle: a batch goes through embed_documents; the models here embed queries and
        # documents alike (a model with query prefixes would need embed_query for the query).
        if len(missing) == 1:
            fresh = {missing[0]: tuple(self.embedder.embed_query(missing[0]))}
        else:
            fresh = {t: tuple(v) for t, v in zip(missing, self.embedder.embed_documents(missing))}
        with self._lock:
            out = []
            for text in texts:  # another thread may have evicted a known one meanwhile
                vector = self._vectors.pop(text, None) or known.get(text) or fresh[text]
                self._vectors[text] = vector  # most recently used last
                out.append(vector)
            while len(self._vectors) > self.maxsize:
                self._vectors.popitem(last=False)
        return np.asarray(out, dtype=np.float32)

    def cache_clear(self) -> None:
        with self._lock:
            self._vectors.clear()
