"""One retrieval contract, run over bm25, dense and hybrid (fake and real embedder)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from assistant.index.embedding import HashingEmbedder
from assistant.pipeline import Assistant
from assistant.retrieval.retrievers import BM25Retriever, HybridRetriever
from assistant.schema import Chunk, Hit

MODES = ["bm25", "dense", "hybrid"]


@pytest.fixture()
def fake_assistant(hashing_settings) -> Assistant:
    embedder = HashingEmbedder()
    return Assistant(hashing_settings, embedder)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_contract(fake_assistant: Assistant, mode: str, k: int) -> None:
    hits = fake_assistant.retrievers[mode].retrieve("fever chills infection after treatment", k)
    assert 0 < len(hits) <= k
    assert all(isinstance(h, Hit) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.chunk.chunk_id for h in hits}) == len(hits)


@pytest.mark.parametrize("mode", MODES)
def test_finds_the_fever_passage_with_the_fake_embedder(fake_assistant: Assistant, mode: str) -> None:
    hits = fake_assistant.retrievers[mode].retrieve("fever or chills after microneedling", 5)
    assert any("Fever or Chills" in h.chunk.section for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_blank_query_returns_nothing(fake_assistant: Assistant, mode: str) -> None:
    assert fake_assistant.retrievers[mode].retrieve("   ", 5) == []


@pytest.mark.integration
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("query", "section_fragment"),
    [
        ("I have a fever and chills two days after microneedling", "Fever or Chills"),
        ("why do I have pimples after microneedling", "Pimples"),
        ("how do I protect my skin from the sun after treatment", "Sun Protection"),
        ("my skin got darker patches after the treatment", "Hyperpigmentation"),
    ],
)
def test_real_model_finds_the_right_section(real_assistant: Assistant, mode: str, query: str, section_fragment: str) -> None:
    hits = real_assistant.retrievers[mode].retrieve(query, 5)
    found = [h.chunk.section + " " + h.chunk.title for h in hits]
    assert any(section_fragment in f for f in found), found


def test_fusion_prefers_agreement_and_weights_retrievers() -> None:
    a = Chunk("a", "d", "T", "S", "alpha", 0, 5)
    b = Chunk("b", "d", "T", "S", "beta", 6, 10)
    c = Chunk("c", "d", "T", "S", "gamma", 11, 16)

    class Fixed:
        def __init__(self, order):
            self.order = order

        def retrieve(self, query, k):
            return [Hit(x, 1.0 / (i + 1)) for i, x in enumerate(self.order)][:k]

    first, second = Fixed([a, b, c]), Fixed([b, c, a])
    fused = HybridRetriever([(first, 0.5), (second, 0.5)]).retrieve("q", 3)
    assert [h.chunk.chunk_id for h in fused] == ["b", "a", "c"]
    # Scores are min-max normalised per retriever: b scores 0.25 in the first, 1.0 in the second.
    assert [round(h.score, 3) for h in fused] == [0.625, 0.5, 0.125]
    leaning = HybridRetriever([(first, 0.9), (second, 0.1)]).retrieve("q", 3)
    assert [h.chunk.chunk_id for h in leaning][0] == "a"
    assert HybridRetriever([(Fixed([]), 0.5), (second, 0.5)]).retrieve("q", 1)[0].chunk.chunk_id == "b"


def test_bm25_ranks_by_the_topic_not_the_corpus_subject() -> None:
    """The subject (in every passage of a real corpus) is left out of the query by scope,
    so BM25 ranks by the words that differ."""
    from assistant.scope import Subject

    chunks = [
        Chunk("1", "d", "T", "Pain", "Microneedling microneedling microneedling is popular.", 0, 10),
        Chunk("2", "d", "T", "Sun", "Apply sunscreen after microneedling.", 11, 20),
        Chunk("3", "d", "T", "Ice", "A cold compress eases swelling.", 21, 30),
    ]
    query = Subject(("microneedling",), "microneedling").strip("sunscreen after microneedling")
    hits = BM25Retriever(chunks).retrieve(query, 2)
    assert [h.chunk.chunk_id for h in hits] == ["2"]


def test_langchain_retriever_adapter(fake_assistant: Assistant) -> None:
    retriever = fake_assistant.as_langchain_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("pimples after treatment")
    assert 0 < len(docs) <= 3
    assert all(isinstance(d, LCDocument) for d in docs)
    assert {"chunk_id", "doc_id", "title", "section", "score"} <= set(docs[0].metadata)
