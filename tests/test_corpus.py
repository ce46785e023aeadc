"""Cleaning and loading: boilerplate goes, every guidance sentence stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.corpus.cleaning import CleaningRules, clean, is_heading, load_corpus
from assistant.errors import CorpusError, DataFileError
from assistant.text import fold

ROOT = Path(__file__).resolve().parents[1]
BOILERPLATE = [
    "STAY IN TOUCH",
    "Subscription",
    "Get daily beauty information",
    "Premium Microcannula",
    "Diaminy Aesthetics",
    "15/12/2024",
    "Retrieved from",
    "Feau",
    "Discover safe and empowering ways",
    "Interested in Beauty Trends",
]


@pytest.fixture(scope="module")
def docs():
    loaded, skipped = load_corpus(ROOT / "corpus")
    assert skipped == []
    return {d.doc_id: d for d in loaded}


def test_titles_are_detected(docs) -> None:
    assert {d.title for d in docs.values()} == {
        "Understanding Microneedling Bad Reactions: Causes, Symptoms, and Solutions",
        "Micro Needling Gone Wrong A Cautionary Tale",
        "Is It Normal To Have Pimples After Microneedling In Toronto?",
    }


@pytest.mark.parametrize("fragment", BOILERPLATE)
def test_boilerplate_is_removed(docs, fragment: str) -> None:
    for doc in docs.values():
        assert fragment.lower() not in doc.text.lower(), f"{fragment!r} survived in {doc.doc_id}"


def test_repeated_title_appears_once_as_title_only(docs) -> None:
    doc = docs["micro-needling-gone-wrong.txt"]
    assert "Cautionary Tale" not in doc.text


def _gold_sentences() -> set[str]:
    gold: set[str] = set()
    for name in ("questions.jsonl", "conversations.jsonl"):
        for line in (ROOT / "evals" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                gold.update(json.loads(line).get("gold", []))
    return gold


def test_every_guidance_sentence_survives_cleaning(docs) -> None:
    cleaned = " ".join(fold(d.text) for d in docs.values())
    missing = [s for s in _gold_sentences() if fold(s) not in cleaned]
    assert len(_gold_sentences()) > 100
    assert missing == []


def test_every_raw_prose_line_is_kept_or_is_boilerplate(docs) -> None:
    """Lines that end like a sentence are guidance unless a boilerplate rule names them."""
    rules = CleaningRules.from_file()
    for doc in docs.values():
        raw = (ROOT / "corpus" / doc.doc_id).read_text(encoding="utf-8")
        for line in raw.splitlines():
            line = line.strip()
            if not line.endswith(".") or any(p.search(line) for p in rules.drop_lines):
                continue
            if rules.reference_line.search(line):
                continue
            assert fold(line) in fold(doc.text), line


def test_clean_joins_hard_wrapped_lines_and_drops_trailing_adverts() -> None:
    raw = "Aftercare Basics\n\nKeep the skin clean and\navoid makeup for a day.\n\nAcme Clinic\nPremium Serum Kit\n"
    doc = clean(raw, "a.txt")
    assert doc.title == "Aftercare Basics"
    assert doc.text == "Keep the skin clean and avoid makeup for a day."


def test_markdown_headings_and_reference_lists() -> None:
    raw = "# Redness\n\nRedness is normal for a day.\n\n## References\n1. Doe, J. (2020). A study. Retrieved from https://x.org\n"
    doc = clean(raw, "notes/redness.md")
    assert doc.title == "Redness"
    assert "Retrieved" not in doc.text and "References" not in doc.text


def test_title_falls_back_to_file_name() -> None:
    doc = clean("Redness is normal for a day. It fades.", "after_care-notes.txt")
    assert doc.title == "After care notes"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("7. Fever or Chills", True),
        ("Is It Normal To Have Pimples After Microneedling In Toronto?", True),
        ("Understanding the Cause", True),
        ("It is important to note that these pimples are usually mild.", False),
        ("Here are some key steps to follow:", False),
        ("", False),
    ],
)
def test_is_heading(line: str, expected: bool) -> None:
    assert is_heading(line) is expected


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Redness\n\nRedness is normal for a day or two.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    french = (
        "Rougeur après le traitement\n\nUne légère rougeur est normale pendant un à deux jours après le "
        "microneedling. Si la rougeur s'aggrave après quarante-huit heures, ou si une fièvre apparaît, "
        "contactez votre médecin ou la clinique qui vous a traité.\n"
    )
    (tmp_path / "latin1.txt").write_bytes(french.encode("latin-1"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs, skipped = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["good.txt", "latin1.txt"]
    assert docs[1].title == "Rougeur après le traitement" and "légère rougeur" in docs[1].text
    reasons = {s.path: s.reason for s in skipped}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "latin1.txt" not in reasons  # decoded with the detected encoding
    assert "unsupported" in reasons["image.png"]


def test_no_usable_files_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="No usable articles"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_malformed_cleaning_rules(tmp_path: Path) -> None:
    bad = tmp_path / "cleaning.yaml"
    bad.write_text("drop_lines: ['(unclosed']\nreferences_heading: x\nreference_line: y\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="malformed"):
        CleaningRules.from_file(bad)
