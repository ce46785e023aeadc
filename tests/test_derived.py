"""The derived files saved beside each generation: written by ingest, used at start, rebuilt when unusable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.index.derived import INFO, Derived, load_or_build
from assistant.index.embedding import HashingEmbedder
from assistant.pipeline import Assistant
from assistant.index.locations import LocalLocation, open_served

QUESTIONS = ["Is redness normal after two days?", "what do I put on my face after", "I have pimples"]


def served(settings: Settings) -> tuple[LocalLocation, Path]:
    location = LocalLocation(settings.index_dir)
    return location, location.derived_dir(str(location.current()))


def answers(assistant: Assistant) -> list[tuple[str, tuple[str, ...]]]:
    return [(a.answer, tuple(c.chunk_id for c in a.citations)) for a in map(assistant.ask, QUESTIONS)]


def same(a: Derived, b: Derived) -> bool:
    terms = ["redness", "pimples", "fever", "sunscreen"]
    return (a.chunks == b.chunks and np.array_equal(a.offsets, b.offsets) and np.array_equal(a.vectors, b.vectors)
            and np.allclose(a.bm25.scores(terms), b.bm25.scores(terms)))


def test_ingest_saves_them_and_a_start_reads_them_instead_of_the_store(hashing_settings: Settings) -> None:
    location, folder = served(hashing_settings)
    assert (folder / INFO).exists()
    store = open_served(location, HashingEmbedder())
    saved = Derived.load(folder)
    assert saved is not None and same(saved, Derived.build(store))
    assistant = Assistant.load(hashing_settings, HashingEmbedder())
    # served from the files: the sentence vectors are the memory-mapped ones, not a copy read from Chroma
    assert not assistant.index.derived.vectors.flags.owndata
    for chunk_id, chunk in assistant.index.chunks.items():
        assert len(assistant.index.vectors(chunk_id)) == len(assistant.index.sentences(chunk_id)) > 0 or not chunk.text


@pytest.mark.parametrize("damage", ["missing", "info", "format", "vectors", "bm25"])
def test_missing_or_damaged_files_are_rebuilt_from_the_store(hashing_settings: Settings, damage: str) -> None:
    expected = answers(Assistant.load(hashing_settings, HashingEmbedder()))
    _, folder = served(hashing_settings)
    if damage == "missing":
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    elif damage == "info":
        (folder / INFO).write_text("{not json", encoding="utf-8")
    elif damage == "format":
        (folder / INFO).write_text(json.dumps({"format": 999, "passages": 1}), encoding="utf-8")
    elif damage == "vectors":
        (folder / "sentences.npy").write_bytes(b"\x93NUMPY truncated")
    else:
        (folder / "bm25.npz").write_bytes(b"garbage")
    assistant = Assistant.load(hashing_settings, HashingEmbedder())
    assert answers(assistant) == expected
    assert Derived.load(folder) is not None  # written again for the next start


def test_an_index_that_cannot_be_written_still_answers(hashing_settings: Settings, monkeypatch) -> None:
    expected = answers(Assistant.load(hashing_settings, HashingEmbedder()))
    location, folder = served(hashing_settings)
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()

    def refuse(self: Derived, folder: Path) -> None:
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(Derived, "save", refuse)
    assistant = Assistant.load(hashing_settings, HashingEmbedder())
    assert answers(assistant) == expected
    assert not folder.exists()


def test_save_is_all_or_nothing_and_a_finished_set_is_kept(tmp_path: Path, hashing_settings: Settings) -> None:
    location, folder = served(hashing_settings)
    derived = load_or_build(open_served(location, HashingEmbedder()), folder)
    target = tmp_path / "cache" / "gen-x"
    derived.save(target)
    before = os.stat(target / INFO).st_mtime_ns
    derived.save(target)  # a second worker finishing later leaves the first one's set alone
    assert os.stat(target / INFO).st_mtime_ns == before
    assert [p.name for p in target.parent.iterdir()] == ["gen-x"]  # no temporary folder left behind
    loaded = Derived.load(target)
    assert loaded is not None and same(loaded, derived)


@pytest.mark.integration
def test_the_real_index_is_served_from_its_derived_files(real_settings: Settings, real_assistant: Assistant,
                                                       real_embedder) -> None:
    _, folder = served(real_settings)
    saved = Derived.load(folder)
    assert saved is not None
    assert same(saved, Derived.build(open_served(LocalLocation(real_settings.index_dir), real_embedder)))
    assert same(real_assistant.index.derived, saved)
    answer = real_assistant.ask("How long does redness last after microneedling?")
    assert answer.citations and not answer.abstained
