"""Adjacent topics the corpus does not cover: named, abstained on, and answered once a document covers them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import DataFileError
from assistant.indexing import ingest
from assistant.pipeline import Assistant
from assistant.topics import AdjacentTopics

ROOT = Path(__file__).resolve().parents[1]
TOPICS = AdjacentTopics.from_file()
PASSAGES = ["Redness and swelling are normal for a day or two.", "Peeling and flaking usually settle within a week."]


@pytest.mark.parametrize("question, topic", [
    ("can i get botox the same week", "Botox and other wrinkle injections"),
    ("does microneedling work on stretch marks?", "stretch marks, cellulite and hair loss"),
    ("Is it safe while I'm pregnant?", "pregnancy and breastfeeding"),
    ("how much does a session cost", "prices and insurance"),
    ("what about a TCA peel instead", "chemical peels"),
    ("which derma roller brand is the best one to buy", "at-home microneedling devices and where to buy them"),
    ("how long do microneedling results last", "how long results last and how well the treatment works"),
    ("can i have a glass of wine tonight after microneedling", "alcohol, smoking, saunas, swimming and travel"),
    ("im on accutane, can i still get it done", "acne medicines such as isotretinoin (Accutane)"),
    ("what % glycolic should i start with for an at home peel", "chemical peels"),
    ("skinpen vs dermapen, which device is better", "which microneedling device or brand is best"),
    ("is protopic or elidel better for eczema on my eyelids", "prescription creams for eczema and rosacea"),
])
def test_a_question_naming_an_uncovered_topic_is_recognised(question: str, topic: str) -> None:
    assert TOPICS.uncovered(question, PASSAGES) == topic


@pytest.mark.parametrize("question", [
    "my skin is peeling, is that normal?",  # peeling is not a chemical peel
    "how much does it hurt the day after",  # "how much" is not a price
    "I have redness and swelling",
    "how long does the redness last",  # not the results of the treatment
    "used a derma roller at home and now i have red bumps",  # a reaction: the corpus covers it
    "am i drinking enough water for my skin to heal",  # the corpus says to drink plenty of water
    "i had wine last night and now my face is red and swollen",  # a reaction after treatment
    "which device did they use on me, my skin is bleeding",  # asks about the treatment given
    "does swelling that exceed the treated area mean something is wrong",  # "exceed" is not a device
    "",
])
def test_ordinary_aftercare_questions_are_not_caught(question: str) -> None:
    assert TOPICS.uncovered(question, PASSAGES) is None


def test_no_in_scope_tune_question_names_an_uncovered_topic() -> None:
    cases = [json.loads(line) for name in ("questions.jsonl", "conversations.jsonl")
             for line in (ROOT / "evals" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    caught = [c["question"] for c in cases
              if c["split"] == "tune" and c["expect"] == "answer" and TOPICS.uncovered(c["question"], PASSAGES)]
    assert caught == []


def test_a_passing_mention_covers_only_questions_about_the_subject_and_a_discussion_covers_all() -> None:
    mentioned = [*PASSAGES, "It can be combined with laser treatments. Discuss timing with your provider."]
    discussed = [*mentioned, "## Lasers after microneedling\nWait two weeks before any laser treatment."]
    assert TOPICS.uncovered("can i do laser after", PASSAGES) == "laser and light treatments"
    assert TOPICS.uncovered("can i do laser after", PASSAGES, names_subject=True) == "laser and light treatments"
    assert TOPICS.uncovered("how long does laser redness last", mentioned) == "laser and light treatments"
    assert TOPICS.uncovered("laser after microneedling?", mentioned, "mentioned", names_subject=True) is None
    assert TOPICS.uncovered("how long does laser redness last", discussed, corpus_key="discussed") is None
    # The same sentence repeated (the corpus repeats itself) is still one mention.
    repeated = [*PASSAGES, *["It can be combined with laser treatments."] * 3]
    assert TOPICS.uncovered("how long does laser redness last", repeated) == "laser and light treatments"
    assert TOPICS.uncovered("how long does laser redness last", PASSAGES, corpus_key="without") is not None


def test_a_malformed_topics_file_says_what_to_fix(tmp_path: Path) -> None:
    bad = tmp_path / "topics.yaml"
    bad.write_text("topics:\n  - name: lasers\n    match: '(unclosed'\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="name and a match"):
        AdjacentTopics.from_file(bad)


@pytest.mark.integration
def test_real_corpus_abstains_on_an_uncovered_topic_and_keeps_the_escalation(real_assistant: Assistant) -> None:
    answer = real_assistant.ask("does microneedling work on stretch marks?")
    assert answer.abstained and not answer.citations and answer.notice is None
    assert answer.answerer == "uncovered-topic" and "stretch marks" in answer.answer
    urgent = real_assistant.ask("I'm pregnant and I have a fever and pus after microneedling")
    assert urgent.abstained and urgent.notice is not None and urgent.triage.level == "urgent"
    covered = real_assistant.ask("my skin is peeling after microneedling, is that normal?")
    assert not covered.abstained and covered.citations
    # The corpus names chemical peels once, in a sentence about combining them with microneedling.
    alone = real_assistant.ask("how long is the downtime after a chemical peel")
    assert alone.answerer == "uncovered-topic" and "chemical peels" in alone.answer
    combined = real_assistant.ask("can i combine microneedling with a chemical peel?")
    assert not combined.abstained and any("chemical peels" in c.text for c in combined.citations)


@pytest.mark.integration
def test_swapping_in_a_document_about_the_topic_turns_the_check_off(tmp_path: Path, real_embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": tmp_path / "index"})
    ingest(settings, real_embedder)
    question = "does microneedling work on stretch marks?"
    assert Assistant.load(settings, real_embedder).ask(question).answerer == "uncovered-topic"
    (corpus / "stretch-marks.md").write_text(
        "# Microneedling for stretch marks\n\nMicroneedling can soften the look of stretch marks over several "
        "sessions. Results vary from person to person, and older stretch marks respond more slowly.\n",
        encoding="utf-8",
    )
    ingest(settings, real_embedder)
    answer = Assistant.load(settings, real_embedder).ask(question)
    assert answer.answerer == "extractive" and not answer.abstained
    assert any(c.doc == "stretch-marks.md" for c in answer.citations)
