"""Okapi BM25 as one sparse matrix, so a query is a sum of a few rows.

``rank_bm25.BM25Okapi`` keeps a dict of term counts per passage and, for every
query term, loops over all passages in Python. Here the whole score is worked out
at build time instead: row ``t`` of a terms x docs CSR matrix holds term ``t``'s
contribution to each passage that contains it,

    idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))

so scoring a query adds the rows of its terms (a repeated term is added again,
exactly as ``get_scores`` does) and costs only those terms' postings.

The numbers match ``BM25Okapi(corpus).get_scores(query)`` (to float32 precision
per entry), quirks included: ``idf = log(N - n + 0.5) - log(n + 0.5)``, and a
term in more than half the passages gets ``epsilon * average_idf`` instead,
where ``average_idf`` is the mean of the raw idfs, negatives included.

Tokenising stays with the caller:

>>> bm25 = SparseBM25.build([["ice", "redness"], ["fever", "chills"], ["_"]])
>>> bm25.top(["fever", "fever", "unknown"], k=5)[0][0]
1
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from assistant.errors import IndexMissingError

FILENAME = "bm25.npz"
FORMAT_VERSION = 1


class SparseBM25:
    """Precomputed BM25 contributions (terms x docs, float32) plus ``term -> row``."""

    def __init__(self, matrix: sparse.csr_matrix, vocabulary: dict[str, int]) -> None:
        self.matrix = matrix
        self.vocabulary = vocabulary

    @property
    def n_docs(self) -> int:
        return int(self.matrix.shape[1])

    @classmethod
    def build(cls, tokenised_docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75,
              epsilon: float = 0.25) -> SparseBM25:
        """Index token lists; pass ``["_"]`` for an empty passage, as retrieval.py does."""
        n_docs = len(tokenised_docs)
        doc_len = np.fromiter((len(d) for d in tokenised_docs), dtype=np.int64, count=n_docs)
        vocabulary: dict[str, int] = {}
        # subtle: len(vocabulary) is evaluated before setdefault inserts, so a new term gets the next row
        term_ids = np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for d in tokenised_docs for t in d),
                               dtype=np.int64, count=int(doc_len.sum()))
        doc_ids = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
        # COO -> CSR sums the duplicate (term, doc) pairs, which turns ones into term frequencies
        counts = sparse.coo_matrix((np.ones(len(term_ids)), (term_ids, doc_ids)),
                                   shape=(len(vocabulary), n_docs)).tocsr()
        counts.sum_duplicates()
        df = np.diff(counts.indptr)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        average_idf = float(idf.mean()) if len(idf) else 0.0
        idf[idf < 0] = epsilon * average_idf
        avgdl = float(doc_len.mean()) if n_docs and doc_len.sum() else 1.0
        tf = counts.data
        norm = k1 * (1 - b + b * doc_len[counts.indices] / avgdl)
        contrib = np.repeat(idf, df) * tf * (k1 + 1) / (tf + norm)
        matrix = sparse.csr_matrix((contrib.astype(np.float32), counts.indices, counts.indptr),
                                   shape=counts.shape)
        return cls(matrix, vocabulary)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """A float64 score per passage; terms not in the vocabulary add nothing."""
        out = np.zeros(self.n_docs)
        m = self.matrix
        for term, count in Counter(query_terms).items():
            row = self.vocabulary.get(term)
            if row is None:
                continue
            lo, hi = m.indptr[row], m.indptr[row + 1]
            # a row's column indices are unique, so fancy-index += never drops an update
            out[m.indices[lo:hi]] += count * m.data[lo:hi].astype(np.float64)
        return out

    def top(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(doc index, score)`` with score > 0, by score then lower index first."""
        s = self.scores(query_terms)
        candidates = np.flatnonzero(s > 0)
        if k <= 0:
            return []
        if len(candidates) > k:
            values = s[candidates]
            kth = np.partition(values, len(values) - k)[len(values) - k]
            # subtle: keep every tie with the k-th score so the index tie-break sees them all
            candidates = candidates[values >= kth]
        order = candidates[np.argsort(-s[candidates], kind="stable")][:k]
        return [(int(i), float(s[i])) for i in order]

    def save(self, folder: Path) -> Path:
        """Write ``folder/bm25.npz`` atomically (temp file, then ``os.replace``); returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        vocab_bytes = np.frombuffer(json.dumps(terms, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        m = self.matrix
        target = folder / FILENAME
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bm25-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, version=np.array([FORMAT_VERSION]), shape=np.array(m.shape, dtype=np.int64),
                         data=m.data, indices=m.indices, indptr=m.indptr, vocabulary=vocab_bytes)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, folder: Path) -> SparseBM25:
        """Read what ``save`` wrote; IndexMissingError if it is absent, corrupt or another version."""
        path = folder / FILENAME
        if not path.is_file():
            raise IndexMissingError(f"No BM25 index at {path}. Run `assistant ingest` to build it.")
        try:
            with np.load(path, allow_pickle=False) as z:
                version = int(z["version"][0])
                if version != FORMAT_VERSION:
                    raise ValueError(f"format version {version}, this assistant reads {FORMAT_VERSION}")
                shape = tuple(int(x) for x in z["shape"])
                data, indices, indptr = z["data"], z["indices"], z["indptr"]
                terms = json.loads(z["vocabulary"].tobytes().decode("utf-8"))
            if (len(shape) != 2 or len(terms) != shape[0] or len(indptr) != shape[0] + 1
                    or len(data) != len(indices) or int(indptr[-1]) != len(data)
                    or (len(indices) and int(indices.max()) >= shape[1])):
                raise ValueError("arrays do not fit together")
            matrix = sparse.csr_matrix((data, indices, indptr), shape=shape)
        except Exception as exc:  # a damaged file can fail in zipfile, numpy, json or scipy
            raise IndexMissingError(
                f"The BM25 index at {path} cannot be used ({exc}). Run `assistant ingest` to rebuild it."
            ) from exc
        return cls(matrix, {t: i for i, t in enumerate(terms)})
