"""The grounding check: the labelled pairs, the tuned threshold, and the sentence rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus.cleaning import load_corpus
from assistant.errors import DataFileError
from assistant.answering.grounding import (
    REPORTED_TEST,
    SUPPORT_THRESHOLD,
    Dropped,
    Kept,
    check,
    discourages_care,
    evaluate,
    judge,
    load_pairs,
    split_cited,
    support,
    tune_threshold,
)
from assistant.answering.markers import cited as markers
from assistant.answering.markers import strip as strip_markers
from assistant.text import fold, sentences

ROOT = Path(__file__).resolve().parents[1]
REDNESS = (
    "After a microneedling treatment, some redness and swelling are normal as your skin responds to the "
    "procedure. However, if you notice that the redness persists for more than 48 hours or becomes "
    "increasingly intense, this could be a sign of a bad reaction."
)
PAIN = (
    "While mild discomfort is expected during and after the procedure, intense pain is not normal. "
    "Contact your dermatologist or skincare professional to evaluate your situation."
)


@pytest.fixture(scope="module")
def pairs():
    return load_pairs()


def test_pairs_file_is_large_balanced_and_from_the_real_corpus(pairs) -> None:
    assert len(pairs) >= 80
    for split in ("tune", "test"):
        labels = [p.supported for p in pairs if p.split == split]
        assert labels.count(True) >= 20 and labels.count(False) >= 20, split
    docs, _ = load_corpus(ROOT / "corpus")
    texts = [fold(d.text) for d in docs]
    assert all(any(fold(p.passage) in t for t in texts) for p in pairs)
    # Passages are split by chunk, so no passage's pairs sit on both sides.
    tune = {p.passage for p in pairs if p.split == "tune"}
    assert tune.isdisjoint(p.passage for p in pairs if p.split == "test")


def test_threshold_is_the_one_tuned_on_the_tune_split(pairs) -> None:
    assert tune_threshold([p for p in pairs if p.split == "tune"]) == SUPPORT_THRESHOLD


def test_reported_figures_hold_on_the_test_split(pairs) -> None:
    scores = evaluate([p for p in pairs if p.split == "test"], SUPPORT_THRESHOLD)
    assert scores.n >= 40
    assert scores.accuracy >= REPORTED_TEST["accuracy"]
    assert scores.precision >= REPORTED_TEST["precision"]
    assert scores.recall >= REPORTED_TEST["recall"]


def test_malformed_pairs_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"sentence": "a", "passage": "b", "supported": true, "split": "tune"}\n{"sentence": "x"}\n')
    with pytest.raises(DataFileError, match=r"pairs.jsonl:2"):
        load_pairs(bad)


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("Redness is normal [1]. It fades [2].", ["Redness is normal [1].", "It fades [2]."], "marker before the stop"),
        ("Redness is normal. [1] It fades. [2]", ["Redness is normal [1].", "It fades [2]."], "marker after the stop"),
        ("Redness is normal.[1][2] It fades.", ["Redness is normal[1][2].", "It fades."], "glued markers"),
    ],
)
def test_split_cited_keeps_markers_with_their_sentence(text: str, expected: list[str], why: str) -> None:
    assert split_cited(text) == expected, why


def test_markers_and_strip() -> None:
    assert markers("Swelling [2, 1] and redness [1][3].") == (2, 1, 3)
    assert strip_markers("Swelling and redness [1] [3].") == "Swelling and redness."


@pytest.mark.parametrize(
    ("sentence", "expected", "why"),
    [
        ("Some redness and swelling are normal after microneedling [1].", "kept", "paraphrase of [1]"),
        ("After a microneedling treatment, some redness and swelling are normal as your skin responds "
         "to the procedure. [1]", "kept", "verbatim quote"),
        ("Redness is normal after microneedling.", "no citation", "no marker"),
        ("Redness is normal after microneedling [3].", "citation out of range", "only two passages"),
        ("Redness is normal after microneedling [0].", "citation out of range", "numbers start at 1"),
        ("Redness that lasts up to 10 days is normal [1].", "unsupported", "invented duration"),
        ("Take 400 mg of ibuprofen for the swelling [1].", "unsupported", "invented dose"),
        ("Intense pain is normal and expected after the procedure [2].", "unsupported", "negation flipped"),
        ("Redness is normal after microneedling [2].", "unsupported", "true, but not in the cited passage"),
        ("There is no need to see a doctor about the redness [1].", "discourages care", "skip care"),
        ("Redness is normal [1][2].", "kept", "either cited passage may support it"),
    ],
)
def test_judge(sentence: str, expected: str, why: str) -> None:
    verdict = judge(sentence, [REDNESS, PAIN])
    got = "kept" if isinstance(verdict, Kept) else verdict.reason
    assert got == expected, f"{why}: {verdict}"


@pytest.mark.parametrize(
    "sentence",
    [
        "There is no need to see a doctor for this.",
        "You don't need to contact your clinic.",
        "It's nothing to worry about.",
        "You can ignore the warning above.",
        "Skip the doctor and treat it at home.",
        "You do not have to call your dermatologist.",
        "Don't worry, this will pass.",
        "It is not necessary to consult a professional.",
        "Just wait and see if the pus goes away.",
        "The fever can safely be ignored.",
    ],
)
def test_care_discouraging_sentences_are_caught(sentence: str) -> None:
    assert discourages_care(sentence)


def test_no_corpus_sentence_is_taken_for_discouraging_care() -> None:
    docs, _ = load_corpus(ROOT / "corpus")
    flagged = [s for d in docs for _, _, s in sentences(d.text) if discourages_care(s)]
    assert flagged == []


def test_support_is_zero_for_new_numbers_and_one_for_quotes() -> None:
    assert support("Apply it for 45 minutes [1].", "Apply it for 10-15 minutes.") == 0.0
    assert support("Apply it for 10-15 minutes [1].", "Apply it for 10-15 minutes.") == 1.0
    assert support("Sessions every four to six weeks [1].", "Sessions spaced 4 to 6 weeks apart.") == 1.0


def test_check_reports_what_was_dropped_and_why() -> None:
    report = check(
        "Some redness is normal [1]. Take 400 mg of ibuprofen [1]. Intense pain is not normal [2]. Skip the doctor [2].",
        [REDNESS, PAIN],
    )
    assert [k.cites for k in report.kept] == [(1,), (2,)]
    assert [(d.reason, d.text) for d in report.dropped] == [
        ("unsupported", "Take 400 mg of ibuprofen [1]."),
        ("discourages care", "Skip the doctor [2]."),
    ]
    assert report.passed  # 2 of 4 is the minimum
    data = report.to_dict()
    assert data["kept"] == 2 and data["dropped"][0]["reason"] == "unsupported"
    assert isinstance(report.dropped[0], Dropped)


def test_check_fails_when_less_than_half_survives() -> None:
    report = check("Some redness is normal [1]. Foo bar [7]. Baz qux. Take 5 mg [1].", [REDNESS])
    assert not report.passed and len(report.kept) == 1
    assert not check("", [REDNESS]).passed
