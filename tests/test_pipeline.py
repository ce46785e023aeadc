"""The whole path on the real corpus, the real model and a real Chroma store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.corpus.cleaning import load_corpus
from assistant.errors import EmptyQuestionError, IndexMissingError
from assistant.pipeline import Assistant
from assistant.schema import Turn

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
MARKED = re.compile(r"(.+?) \[(\d+)\](?:\s|$)")


def marked_sentences(answer_text: str) -> list[tuple[str, int]]:
    return [(m.group(1).strip(), int(m.group(2))) for m in MARKED.finditer(answer_text)]


def assert_grounded(answer) -> None:
    """Every sentence carries [n], n is a listed source, and the sentence is verbatim in it."""
    pairs = marked_sentences(answer.answer)
    assert pairs, answer.answer
    assert "".join(f"{s} [{n}]" for s, n in pairs).replace(" ", "") == answer.answer.replace(" ", "")
    numbers = {c.n for c in answer.citations}
    for sentence, n in pairs:
        assert n in numbers
        assert sentence in answer.citations[n - 1].text


def test_first_person_fever_is_urgent_and_cites_fever(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("I've had a fever and chills since my microneedling two days ago, what should I do?")
    assert answer.triage.level == "urgent"
    assert answer.notice == real_assistant.texts.notices["urgent"]
    assert not answer.abstained
    assert any("fever" in c.text.lower() and "chills" in c.text.lower() for c in answer.citations)
    assert_grounded(answer)


def test_pimples_question_cites_the_pimples_article(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("Is it normal to get pimples after microneedling?")
    assert answer.triage.level == "none" and answer.notice is None
    assert any(c.doc == "pimples-after-microneedling.txt" for c in answer.citations)
    assert_grounded(answer)


def test_out_of_scope_abstains(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("best pizza in Toronto")
    assert answer.abstained and answer.scope.decision == "not covered"
    assert answer.citations == ()
    assert answer.answer.startswith("My sources do not cover “pizza”") and "microneedling" in answer.answer


def test_throat_swelling_is_an_emergency(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("my throat is swelling and it's hard to swallow after microneedling")
    assert answer.triage.level == "emergency"
    assert answer.notice == real_assistant.texts.notices["emergency"]
    assert answer.triage.signals


def test_notice_survives_an_out_of_scope_question(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("I have a fever right now. Anyway, what's the best pizza in Toronto?")
    assert answer.triage.level == "urgent"
    assert answer.notice == real_assistant.texts.notices["urgent"]


def _questions() -> list[str]:
    lines = (ROOT / "evals" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def test_every_citation_is_a_corpus_passage_and_every_sentence_is_verbatim(real_assistant: Assistant) -> None:
    docs = {d.doc_id: d for d in load_corpus(ROOT / "corpus")[0]}
    answered = 0
    for question in _questions():
        answer = real_assistant.ask(question)
        if answer.abstained or answer.refused:
            continue
        answered += 1
        assert_grounded(answer)
        for c in answer.citations:
            assert c.text in docs[c.doc].text
            assert c.title == docs[c.doc].title
            assert all(s in c.text for s in c.sentences)
    assert answered > 100


def test_answer_schema_is_stable(real_assistant: Assistant) -> None:
    data = real_assistant.ask("How long does redness last after microneedling?").to_dict()
    assert {"notice", "answer", "triage", "abstained", "citations"} <= set(data)
    assert set(data["triage"]) == {"level", "signals"}
    assert data["triage"]["level"] in ("emergency", "urgent", "none")
    for c in data["citations"]:
        assert {"n", "doc", "title", "section", "text", "score"} <= set(c)
        assert isinstance(c["n"], int) and isinstance(c["score"], float)
    json.dumps(data)


def test_history_keeps_a_conversation_escalated(real_assistant: Assistant) -> None:
    history = [Turn("user", "I have a fever after microneedling"), Turn("assistant", "...")]
    assert real_assistant.ask("what should I do?", history).triage.level == "urgent"


def test_empty_and_huge_messages(real_assistant: Assistant) -> None:
    with pytest.raises(EmptyQuestionError):
        real_assistant.ask("   ")
    huge = "my skin is a bit red " * 500 + " I have pus coming out " + "and it itches " * 500
    answer = real_assistant.ask(huge)
    assert answer.triage.level == "urgent"


def test_missing_index_says_what_to_do(tmp_path: Path, real_embedder) -> None:
    from assistant.config import Settings

    settings = Settings.resolve(env={}, flags={"index_dir": tmp_path / "nowhere"})
    with pytest.raises(IndexMissingError, match="assistant ingest"):
        Assistant.load(settings, real_embedder)


def test_vector_cache_survives_another_thread_evicting_a_text() -> None:
    """Between the two locked steps another thread may evict a text this call found cached."""
    from assistant.index.embedding import HashingEmbedder
    from assistant.index.embedding.cache import VectorCache

    class Filling(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.cache: VectorCache | None = None

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            assert self.cache is not None
            self.cache.cache_clear()  # what a concurrent eviction does
            return super().embed_documents(texts)

    embedder = Filling()
    cache = VectorCache(embedder, maxsize=2)
    embedder.cache = cache
    cache.many(["a"])
    vectors = cache.many(["a", "b", "c"])
    assert vectors.shape[0] == 3
