"""Query expansion and follow-up rewriting (retrieval only; answers stay verbatim)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DataFileError
from assistant.retrieval.expansion import Expander, default_expander
from assistant.schema import Turn


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("my face is really puffy", "swelling"),
        ("it's weeping yellow stuff", "oozing"),
        ("running a temp since yesterday", "fever"),
        ("got zits everywhere", "pimples"),
        ("i have brown skin, is it risky", "hyperpigmentation"),
        ("going to the beach tomorrow", "sunscreen"),
    ],
)
def test_colloquial_words_map_to_the_articles_words(question: str, term: str) -> None:
    assert term in default_expander().expand(question)


@pytest.mark.parametrize("question", ["dark spots on my cheeks after microneedling", "my skin got darker in spots"])
def test_dark_spots_are_pigment_not_pimples(question: str) -> None:
    expanded = default_expander().expand(question)
    assert "hyperpigmentation" in expanded and "pimples" not in expanded


def test_an_unless_pattern_stops_its_rule(tmp_path: Path) -> None:
    lexicon = tmp_path / "synonyms.yaml"
    lexicon.write_text("expansions:\n  - {match: 'spots?', add: pimples, unless: 'dark spots?'}\n", encoding="utf-8")
    expander = Expander.from_file(lexicon)
    assert expander.terms("spots on my chin") == ["pimples"]
    assert expander.terms("dark spots on my chin") == []


def test_intent_terms_come_from_the_new_question_only() -> None:
    expander = default_expander()
    follow_up = expander.expand("how do i lower the risk", ["can microneedling cause scars?"])
    assert "scarring" in follow_up  # the topic carries over
    assert "minimize the risk" in follow_up and "causes" not in follow_up  # "cause" was the earlier intent
    assert "causes" in expander.expand("why did it cause scars")


def test_what_the_patient_rules_out_is_not_searched_for() -> None:
    expanded = default_expander().expand("anything else i can do besides ice?")
    assert "ice" not in expanded and "cold compress" not in expanded
    assert default_expander().expand("besides ice").startswith("besides ice")  # nothing else left: kept as asked
    assert "swelling" in default_expander().expand("i have nothing other than swelling, is that ok")
    assert "swelling" in default_expander().expand("all fine except the swelling, is that normal")


def test_unrelated_question_is_unchanged() -> None:
    assert default_expander().expand("capital of australia?") == "capital of australia?"


def test_malformed_lexicon(tmp_path: Path) -> None:
    bad = tmp_path / "synonyms.yaml"
    bad.write_text("expansions:\n  - {match: '(', add: x}\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="match"):
        Expander.from_file(bad)


def test_follow_up_uses_the_previous_user_turn(hashing_settings) -> None:
    from assistant.index.embedding import HashingEmbedder
    from assistant.pipeline import Assistant

    assistant = Assistant.load(hashing_settings, HashingEmbedder())
    history = [Turn("user", "I got pimples after microneedling"), Turn("assistant", "They are common.")]
    query = assistant.retrieval_query("how long should that last?", history)
    assert "pimples" in query and "how long should that last?" in query
    standalone = "what is the recommended spacing between microneedling sessions for best results"
    assert assistant.follow_up_context(standalone, history) == []
    assert "microneedling" not in assistant.retrieval_query(standalone, history)  # the corpus's own subject


def test_subject_is_stripped_unless_nothing_else_is_left() -> None:
    from assistant.scope import Subject

    expander, subject = default_expander(), Subject(("microneedling",), "microneedling", ("micro needling",))
    assert expander.expand("does micro needling work on stretch marks", subject=subject).startswith("does work on stretch")
    assert expander.expand("what is microneedling?", subject=subject).startswith("what is microneedling?")
    assert "microneedling" in expander.expand("does microneedling work on stretch marks")  # no subject given
