"""Chunks: exact offsets, stable ids, sections that match the article's headings."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus.chunking import chunk_document, chunk_documents
from assistant.corpus.cleaning import clean, load_corpus

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs():
    return load_corpus(ROOT / "corpus")[0]


def test_offsets_point_into_the_cleaned_text(docs) -> None:
    by_id = {d.doc_id: d for d in docs}
    for chunk in chunk_documents(docs):
        assert by_id[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
        assert chunk.title == by_id[chunk.doc_id].title


def test_ids_are_unique_and_stable(docs) -> None:
    first = [c.chunk_id for c in chunk_documents(docs)]
    second = [c.chunk_id for c in chunk_documents(load_corpus(ROOT / "corpus")[0])]
    assert first == second
    assert len(set(first)) == len(first)


def test_sections_carry_the_heading_path(docs) -> None:
    chunks = chunk_documents(docs)
    fever = [c for c in chunks if "fever or chills following microneedling" in c.text]
    assert len(fever) == 1
    assert fever[0].section == (
        "How to Identify Microneedling Bad Reactions: Key Symptoms to Watch For › 7. Fever or Chills"
    )
    faq = [c for c in chunks if "3 to 6 sessions" in c.text][0]
    assert faq.section.startswith("FAQs › 1. How many")


@pytest.mark.parametrize("size", [200, 400, 700, 1500])
def test_chunks_respect_size_and_never_cross_sections(docs, size: int) -> None:
    for chunk in chunk_documents(docs, size):
        assert len(chunk.text) <= size or "\n" not in chunk.text
        assert not any(line.strip().startswith(("1. ", "2. ")) and len(line) < 60 for line in chunk.text.split("\n\n")[1:])


def test_an_edit_changes_only_the_edited_section_ids() -> None:
    base = "Title\n\nRedness\n\nRedness is normal.\n\nPimples\n\nPimples fade within a week."
    before = {c.section: c.chunk_id for c in chunk_document(clean(base, "a.txt"))}
    after = {c.section: c.chunk_id for c in chunk_document(clean(base.replace("a week", "7 days"), "a.txt"))}
    assert before["Redness"] == after["Redness"]
    assert before["Pimples"] != after["Pimples"]
