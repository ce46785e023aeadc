"""SparseBM25 gives rank_bm25's scores, survives a save/load, and ranks like retrieval.py."""

from __future__ import annotations

import doctest
import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

import assistant.retrieval.bm25
from assistant.retrieval.bm25 import FILENAME, SparseBM25
from assistant.corpus.chunking import chunk_documents, embedding_text
from assistant.config import Settings
from assistant.corpus.cleaning import load_corpus
from assistant.errors import IndexMissingError
from assistant.retrieval.retrievers import query_terms

ROOT = Path(__file__).resolve().parents[1]


def assert_same_scores(ours: np.ndarray, reference: np.ndarray) -> None:
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-9)


def synthetic_corpus(seed: int = 7, n_docs: int = 300) -> list[list[str]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(400)]
    docs = []
    for _ in range(n_docs):
        # Zipf-ish draws give a realistic spread of document frequencies
        doc = [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(rng.randint(0, 40))]
        if rng.random() < 0.7:
            doc.append("common")  # in ~70% of passages: negative raw idf, so the epsilon floor applies
        docs.append(doc or ["_"])  # what BM25Retriever does for an empty passage
    return docs


QUERIES = [
    ["w1"],
    ["w3", "w3", "w17"],  # a repeated term counts twice
    ["common"],
    ["common", "w2", "common", "w250"],
    ["nowhere", "w5"],  # unknown terms add nothing
    ["nowhere"],
    ["_"],
]


@pytest.mark.parametrize("query", QUERIES)
def test_matches_rank_bm25_on_a_synthetic_corpus(query: list[str]) -> None:
    docs = synthetic_corpus()
    reference = BM25Okapi(docs)
    assert reference.idf["common"] == pytest.approx(reference.epsilon * reference.average_idf)
    assert_same_scores(SparseBM25.build(docs).scores(query), reference.get_scores(query))


def test_matches_rank_bm25_when_the_epsilon_floor_is_negative() -> None:
    # every term in more than half the passages: average idf < 0, so the floor itself is negative
    docs = [["a", "b"], ["a", "b", "b"], ["a"], ["b", "a", "a"]]
    query = ["a", "b", "a"]
    assert_same_scores(SparseBM25.build(docs).scores(query), BM25Okapi(docs).get_scores(query))


@pytest.fixture(scope="module")
def real_tokens() -> list[list[str]]:
    docs, _ = load_corpus(ROOT / "corpus")
    chunks = chunk_documents(docs, Settings.resolve(env={}, flags={}).chunk_size)
    assert len(chunks) > 20
    return [query_terms(embedding_text(c)) or ["_"] for c in chunks]


@pytest.mark.parametrize("question", [
    "fever and chills two days after microneedling",
    "Can I wear makeup the next day?",
    "how long does redness last, redness and peeling",
    "pimples breakout after treatment",
    "zzz qqq",
])
def test_matches_rank_bm25_on_the_bundled_corpus(real_tokens: list[list[str]], question: str) -> None:
    query = query_terms(question)
    reference = BM25Okapi(real_tokens).get_scores(query)
    assert_same_scores(SparseBM25.build(real_tokens).scores(query), reference)


def test_top_agrees_with_retrieval_order_on_the_bundled_corpus(real_tokens: list[list[str]]) -> None:
    query = query_terms("swelling and itching after needling, is it an allergic reaction?")
    reference = BM25Okapi(real_tokens).get_scores(query)
    expected = [i for i in sorted(range(len(reference)), key=lambda i: (-reference[i], i)) if reference[i] > 0]
    assert [i for i, _ in SparseBM25.build(real_tokens).top(query, 5)] == expected[:5]


def test_top_orders_by_score_then_lower_index() -> None:
    docs = [["x"], ["y"], ["z", "x"], ["z", "x"], ["x"], ["y", "y"], ["z", "x"], ["q"]]
    bm25 = SparseBM25.build(docs)
    s = bm25.scores(["x"])
    assert s[0] == s[4] and s[2] == s[3] == s[6] and s[0] > s[2] > 0
    assert [i for i, _ in bm25.top(["x"], 10)] == [0, 4, 2, 3, 6]  # score > 0 only
    # ties straddle the cut-off: the lowest indices among equal scores win
    assert [i for i, _ in bm25.top(["x"], 3)] == [0, 4, 2]
    assert [i for i, _ in bm25.top(["x"], 1)] == [0]
    assert bm25.top(["x"], 0) == []
    assert bm25.top(["nowhere"], 3) == []


def test_top_with_many_ties_matches_a_full_sort() -> None:
    docs = synthetic_corpus(seed=3, n_docs=2000)
    bm25 = SparseBM25.build(docs)
    query = ["w1", "w2", "common"]
    s = bm25.scores(query)
    expected = [i for i in sorted(range(len(s)), key=lambda i: (-s[i], i)) if s[i] > 0]
    for k in (1, 7, 50, 5000):
        assert [i for i, _ in bm25.top(query, k)] == expected[:k]


def test_save_then_load_gives_identical_scores(tmp_path: Path) -> None:
    docs = synthetic_corpus()
    built = SparseBM25.build(docs)
    path = built.save(tmp_path / "gen")
    assert path == tmp_path / "gen" / FILENAME
    assert sorted(p.name for p in path.parent.iterdir()) == [FILENAME]  # no temp file left behind
    loaded = SparseBM25.load(tmp_path / "gen")
    assert loaded.vocabulary == built.vocabulary
    for query in QUERIES:
        np.testing.assert_array_equal(loaded.scores(query), built.scores(query))


def test_round_trips_non_ascii_terms_and_an_empty_corpus(tmp_path: Path) -> None:
    docs = [["rougeur", "œdème"], ["发烧"], ["_"]]  # 3 docs: with 2, idf(df=1) is 0
    SparseBM25.build(docs).save(tmp_path)
    assert SparseBM25.load(tmp_path).top(["发烧"], 2)[0][0] == 1
    SparseBM25.build([]).save(tmp_path)
    assert SparseBM25.load(tmp_path).scores(["x"]).shape == (0,)


def test_loading_a_missing_index_says_to_ingest(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="assistant ingest"):
        SparseBM25.load(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "version", "mismatch"])
def test_loading_a_damaged_index_says_to_ingest(tmp_path: Path, damage: str) -> None:
    path = SparseBM25.build(synthetic_corpus()).save(tmp_path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a numpy archive")
    else:
        with np.load(path) as z:
            arrays = dict(z)
        if damage == "version":
            arrays["version"] = np.array([99])
        else:
            arrays["indptr"] = arrays["indptr"][:-5]
        np.savez(path, **arrays)
    with pytest.raises(IndexMissingError, match="assistant ingest"):
        SparseBM25.load(tmp_path)


def test_docstring_example_runs() -> None:
    assert doctest.testmod(assistant.retrieval.bm25).failed == 0
