"""Duplicate collapsing and answer composition on the real corpus and model."""

from __future__ import annotations

import re

import pytest

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


def sentences_of(answer_text: str) -> list[str]:
    return [m.group(1).strip() for m in MARKED.finditer(answer_text)]


def test_answers_are_short_distinct_and_answer_first(real_assistant: Assistant) -> None:
    for question in (
        "is it normal to have pimples after microneedling and when should i worry",
        "my face is red and swollen the day after, what should i do",
        "how do i look after my skin after microneedling",
    ):
        answer = real_assistant.ask(question)
        sentences = sentences_of(answer.answer)
        assert 1 <= len(sentences) <= real_assistant.settings.max_sentences
        assert len(set(sentences)) == len(sentences)


@pytest.mark.parametrize(("question", "expected"), [
    ("can i go to the gym the day after microneedling", "exercise"),
    ("when can i put makeup back on", "makeup"),
    ("should i use ice on my face after", "cold compress"),
])
def test_the_sentence_that_answers_comes_first(real_assistant: Assistant, question: str, expected: str) -> None:
    first = sentences_of(real_assistant.ask(question).answer)[0]
    assert expected in first.lower(), first


def test_a_single_fact_gets_a_short_answer_and_a_list_question_a_longer_one(real_assistant: Assistant) -> None:
    short = sentences_of(real_assistant.ask("can i go to the gym the day after microneedling").answer)
    listed = sentences_of(real_assistant.ask("what are the signs of a bad reaction after microneedling").answer)
    assert len(short) <= real_assistant.settings.single_sentences
    assert len(listed) > len(short)


def corpus_questions(limit: int = 80) -> list[str]:
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path("evals/questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return [r["question"] for r in rows if not r.get("history")][:limit]


def test_no_answer_quotes_a_sentence_that_leans_on_text_it_does_not_show(real_assistant: Assistant) -> None:
    """"This can result in…" comes right after the sentence it leans on, or not at all; "…several
    factors." never comes. Checked on every answer to 80 questions of the suite."""
    roles = real_assistant.roles
    checked = 0
    for question in corpus_questions():
        answer = real_assistant.ask(question)
        if answer.abstained or answer.refused:
            continue
        quoted = sentences_of(answer.answer)
        by_text = {s: c for c in answer.citations for s in c.sentences}
        for i, sentence in enumerate(quoted):
            assert not roles.leads_on(sentence), (question, sentence)
            if roles.refers_back(sentence):
                checked += 1
                passage = by_text[sentence].text
                assert i > 0 and passage.find(quoted[i - 1]) < passage.find(sentence), (question, quoted)
    assert checked  # the corpus has such sentences, and some answers use them with their lead-in


@pytest.mark.parametrize("question", [
    "my lips are swelling and my throat feels tight after microneedling",
    "i cant breathe properly and my face is swelling up, what do i do",
    "hives all over and i feel dizzy after the serum they used",
])
def test_under_an_emergency_the_body_gives_no_self_care(real_assistant: Assistant, question: str) -> None:
    answer = real_assistant.ask(question)
    assert answer.triage.level == "emergency" and answer.notice
    roles = real_assistant.roles
    for sentence in sentences_of(answer.answer):
        assert roles.urgent_help(sentence), sentence
    body = answer.answer.lower()
    for advice in ("ibuprofen", "naproxen", "cold compress", "if your reaction is mild", "moisturizer"):
        assert advice not in body


@pytest.mark.parametrize("question", [
    "there is a yellow crust on my cheek and the pain is getting worse every day",
    "day 3, the redness is spreading and I have a fever",
    "the bumps are filled with pus and really painful",
])
def test_under_urgent_the_first_sentence_sends_to_a_professional(real_assistant: Assistant, question: str) -> None:
    answer = real_assistant.ask(question)
    assert answer.triage.level == "urgent"
    sentences = sentences_of(answer.answer)
    roles = real_assistant.roles
    assert "help" in roles.of(sentences[0]), sentences
    for sentence in sentences:
        sentence_roles = roles.of(sentence)
        assert not ("waiting" in sentence_roles and "help" not in sentence_roles), sentence


def test_after_treatment_no_advice_for_before_it(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("I'm five days after my treatment, what products should i avoid now")
    assert answer.extra["reading"] == {"phase": "after", "days": 5, "wants_list": True}
    for sentence in sentences_of(answer.answer):
        assert real_assistant.roles.phase_of(sentence) != "before", sentence


def test_before_treatment_gets_the_preparation_advice(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("getting microneedled next week, anything i should stop using beforehand?")
    assert answer.extra["reading"]["phase"] == "before"
    assert "before your appointment" in answer.answer


def test_a_place_the_question_does_not_name_is_left_out_when_another_sentence_says_it(
        real_assistant: Assistant) -> None:
    answer = real_assistant.ask("are pimples after microneedling normal")
    assert not answer.abstained and "Toronto" not in answer.answer


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        ("I got pimples after microneedling", "how long should that last?", "week"),
        ("my skin is really red after microneedling", "and what about the swelling?", "swelling"),
    ],
)
def test_follow_ups_are_answered_from_the_conversation(real_assistant: Assistant, history: str, question: str,
                                                       expected: str) -> None:
    from assistant.schema import Turn

    answer = real_assistant.ask(question, [Turn("user", history), Turn("assistant", "...")])
    assert not answer.abstained and expected in answer.answer.lower()
