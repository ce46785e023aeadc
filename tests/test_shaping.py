"""The tier shapes the body (assistant.safety.shaping) and sentences have roles (assistant.answering.roles).

Fast tests on hand-made passages: the shaper works on any answerer's composition, an
LLM's with several markers per sentence too. The same rules on the real corpus and
model are in tests/test_composition.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answering.base import Candidate, Composition, Evidence, Unit, assemble, units_of

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.roles import Roles, bundled_roles, days_since
from assistant.safety.notices import default_texts
from assistant.schema import Chunk, Hit
from assistant.safety.shaping import Shaper

CARE = ("If your reaction is mild, the first step is to apply a cold compress to reduce swelling. "
        "Over-the-counter medications, such as ibuprofen, can be effective in reducing pain.")
HELP = ("If you suspect you are having an allergic reaction, contact your healthcare professional right away. "
        "Redness is normal and should fade within a few days.")
PRO = "If the pimples persist or worsen, consult a dermatologist. They can provide appropriate treatment."


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(cid, f"{cid}.txt", cid.title(), "Section", text, 0, len(text))


def evidence(question: str = "my lips are swelling", reading_question: str | None = None) -> Evidence:
    """Three passages; each sentence's vector is one axis, the query closest to the self-care ones."""
    from assistant.text import sentences

    chunks = [chunk("care", CARE), chunk("help", HELP), chunk("pro", PRO)]
    candidates, dim, axis = [], 8, 0
    closeness = {"care": 0.9, "help": 0.5, "pro": 0.4}
    query = np.zeros(dim, dtype=np.float32)
    for rank, c in enumerate(chunks):
        for position, (_, _, text) in enumerate(sentences(c.text)):
            vector = np.zeros(dim, dtype=np.float32)
            vector[axis] = 1.0
            query[axis] = closeness[c.chunk_id] - 0.01 * position
            candidates.append(Candidate(c, text, vector, rank, position))
            axis += 1
    query /= np.linalg.norm(query)
    reading = bundled_roles().read(reading_question or question)
    return Evidence(question, tuple(Hit(c, 1.0 - 0.1 * i) for i, c in enumerate(chunks)), tuple(candidates),
                    query, reading)


@pytest.fixture(scope="module")
def shaper() -> Shaper:
    return Shaper(bundled_roles(), default_texts().emergency_body)


def test_under_an_emergency_self_care_is_dropped_and_help_kept(shaper: Shaper) -> None:
    ev = evidence()
    composed = ExtractiveAnswerer(0.0, 5, spread=1.0, single=5).compose(ev)
    assert "cold compress" in composed.answer  # what the answerer alone would say
    shaped = shaper.shape(composed, ev, "emergency")
    assert "cold compress" not in shaped.answer and "ibuprofen" not in shaped.answer
    assert shaped.answer.startswith("If you suspect you are having an allergic reaction")
    assert [c.chunk_id for c in shaped.citations] == ["help"] and shaped.citations[0].n == 1
    assert shaped.answer.endswith("[1]")


def test_under_an_emergency_with_no_help_sentence_the_body_is_the_fixed_text(shaper: Shaper) -> None:
    ev = evidence()
    only_care = Evidence(ev.question, ev.hits[:1], tuple(c for c in ev.candidates if c.chunk.chunk_id == "care"),
                         ev.query_vector, ev.reading)
    shaped = shaper.shape(ExtractiveAnswerer(0.0).compose(only_care), only_care, "emergency")
    assert shaped.answer == default_texts().emergency_body and shaped.citations == ()
    assert shaped.abstained  # fixed text: no source is quoted, so it is not scored as a quote


def test_an_llm_answer_is_shaped_too(shaper: Shaper) -> None:
    """Sentences with two markers, in an order the model chose: the tier still decides."""
    ev = evidence()
    hits = {h.chunk.chunk_id: h for h in ev.hits}
    llm = assemble([Unit("Use a cold compress and ibuprofen for the swelling.", ("care", "help")),
                    Unit("Call your doctor right away if it is an allergic reaction.", ("help",))],
                   list(hits.values()), 0.5, "llm:tiny")
    assert "[1][2]" in llm.answer
    shaped = shaper.shape(llm, ev, "emergency")
    assert shaped.answer == "Call your doctor right away if it is an allergic reaction. [1]"
    assert shaped.citations[0].chunk_id == "help"
    urgent = shaper.shape(llm, ev, "urgent")
    assert urgent.answer.startswith("Call your doctor right away")


def test_under_urgent_a_professional_comes_first_and_waiting_it_out_goes(shaper: Shaper) -> None:
    ev = evidence("the redness is spreading and hot")
    composed = ExtractiveAnswerer(0.0, 5, spread=1.0, single=5).compose(ev)
    shaped = shaper.shape(composed, ev, "urgent")
    units = units_of(shaped)
    assert "help" in bundled_roles().of(units[0].text)
    assert not any("should fade within a few days" in u.text for u in units)
    assert "cold compress" in shaped.answer  # self-care stays, after the professional


def test_under_urgent_a_help_sentence_is_brought_in_when_the_answer_has_none(shaper: Shaper) -> None:
    ev = evidence("the redness is spreading and hot")
    care_only = ExtractiveAnswerer(0.0, 1, spread=0.0, single=1).compose(ev)
    assert "help" not in bundled_roles().of(units_of(care_only)[0].text)
    shaped = shaper.shape(care_only, ev, "urgent")
    first = units_of(shaped)[0]
    assert first.text.startswith("If you suspect you are having an allergic reaction")
    assert [c.n for c in shaped.citations] == [1, 2]


def test_no_tier_leaves_the_answer_as_it_is(shaper: Shaper) -> None:
    ev = evidence("is redness normal")
    composed = ExtractiveAnswerer(0.0).compose(ev)
    assert shaper.shape(composed, ev, "none") is composed
    abstained = Composition("", (), abstained=True, relevance=0.0)
    assert shaper.shape(abstained, ev, "urgent") is abstained


def test_a_sentence_that_leans_on_another_comes_after_it_or_not_at_all() -> None:
    ev = evidence("pimples that get worse, who treats them")
    roles = bundled_roles()
    composed = ExtractiveAnswerer(0.0, 5, spread=1.0, single=5).compose(ev)
    said = [u.text for u in units_of(composed)]
    lean = "They can provide appropriate treatment."
    assert roles.refers_back(lean)
    if lean in said:
        assert said[said.index(lean) - 1] == "If the pimples persist or worsen, consult a dermatologist."
    alone = Evidence(ev.question, ev.hits, tuple(c for c in ev.candidates if c.text == lean), ev.query_vector,
                     ev.reading)
    composed = ExtractiveAnswerer(0.0).compose(alone)
    assert composed.abstained and composed.answer == ""  # nothing it leans on: never quoted alone


@pytest.mark.parametrize(("question", "phase", "days", "wants_list"), [
    ("day 5 and still peeling, what should I avoid", "after", 5, True),
    ("had it done 2 weeks ago, is this normal", "after", 14, False),
    ("getting microneedling next week, should I stop retinol beforehand", "before", None, False),
    ("what are the signs of an infection", None, None, True),
    ("yesterday's session left me red", "after", 1, False),
])
def test_the_question_is_read_for_phase_days_and_a_list(question: str, phase: str | None, days: int | None,
                                                        wants_list: bool) -> None:
    reading = bundled_roles().read(question)
    assert (reading.phase, reading.days, reading.wants_list) == (phase, days, wants_list)


def test_the_phase_and_days_come_from_the_conversation_when_the_question_has_none() -> None:
    reading = bundled_roles().read("can I wear makeup yet", ["I had my treatment 3 days ago"])
    assert (reading.phase, reading.days) == ("after", 3)
    assert days_since("no day here") is None


@pytest.mark.parametrize(("sentence", "expected"), [
    ("Apply a cold compress to reduce swelling.", {"self_care"}),
    ("Seek medical attention immediately.", {"help", "immediate"}),
    ("These pimples should resolve within a few days.", {"waiting"}),
    ("A young woman developed an infection after her session.", {"story", "after"}),
    ("A week or two before your appointment, avoid retinoids.", {"before", "self_care"}),
])
def test_sentence_roles(sentence: str, expected: set[str]) -> None:
    assert expected <= bundled_roles().of(sentence)


def test_a_malformed_rules_file_names_itself(tmp_path) -> None:
    from assistant.errors import DataFileError

    bad = tmp_path / "answers.yaml"
    bad.write_text("roles: {help: ['(']}\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="answers.yaml"):
        Roles.from_file(bad)


def test_if_shaping_fails_an_emergency_still_gets_the_fixed_body(real_assistant, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("shaping broke")

    monkeypatch.setattr(real_assistant.shaper, "shape", broken)
    answer = real_assistant.ask("my throat is closing and my lips are swelling after microneedling")
    assert answer.triage.level == "emergency" and answer.notice
    assert answer.answer == default_texts().emergency_body and not answer.citations
