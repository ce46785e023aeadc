"""Duplicate collapsing and answer composition on the real corpus and model."""

from __future__ import annotations

import re

import pytest

from assistant.answer import reading_order
from assistant.pipeline import Assistant

pytestmark = pytest.mark.integration
MARKED = re.compile(r"(.+?) \[(\d+)\](?:\s|$)")


def test_near_duplicate_passages_collapse_into_one_hit(real_assistant: Assistant) -> None:
    """The pimples article says when to see a dermatologist in two sections; they are one hit."""
    query = real_assistant.retrieval_query("when should i see a dermatologist about pimples after microneedling")
    found = real_assistant.retriever.retrieve(query, 10)
    collapsed = real_assistant.collapse(found)
    assert len(collapsed) < len(found)
    merged = [h for h in collapsed if h.also]
    assert merged
    for hit in merged:
        for other in hit.also:
            assert other not in {h.chunk.chunk_id for h in collapsed}


def test_answers_are_short_distinct_and_read_in_order(real_assistant: Assistant) -> None:
    for question in (
        "is it normal to have pimples after microneedling and when should i worry",
        "my face is red and swollen the day after, what should i do",
        "how do i look after my skin after microneedling",
    ):
        answer = real_assistant.ask(question)
        sentences = [s for s, _ in ((m.group(1).strip(), m.group(2)) for m in MARKED.finditer(answer.answer))]
        assert 1 <= len(sentences) <= real_assistant.settings.max_sentences
        assert len(set(sentences)) == len(sentences)
        order = [reading_order(s) for s in sentences]
        assert order == sorted(order), (question, sentences)  # what it is, then what to do, then when to get help


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ("I got pimples after microneedling", "how long should that last?", "few days to a week"),
        ("my skin is really red after microneedling", "and what about the swelling?", "swelling"),
    ],
)
def test_follow_ups_are_answered_from_the_conversation(real_assistant: Assistant, history: str, question: str,
                                                       expected: str) -> None:
    from assistant.schema import Turn

    answer = real_assistant.ask(question, [Turn("user", history), Turn("assistant", "...")])
    assert not answer.abstained and expected in answer.answer.lower()
