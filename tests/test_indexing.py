"""Incremental, atomic ingest: only what changed is embedded; a killed ingest harms nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.embedding import HashingEmbedder
from assistant.index.ingest import ingest, make_plan
from assistant.pipeline import Assistant
from assistant.index.locations import LocalLocation, open_served

ROOT = Path(__file__).resolve().parents[1]


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, recording every text it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return super().embed_documents(texts)


def settings_for(tmp_path: Path, corpus: Path) -> Settings:
    return Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": tmp_path / "index", "model": "hashing"})


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", folder)
    return folder


def ids_by_doc(settings: Settings) -> dict[str, set[str]]:
    return {d: set(info["chunk_ids"]) for d, info in LocalLocation(settings.index_dir).manifest()["documents"].items()}


def test_unchanged_corpus_embeds_nothing_and_keeps_the_generation(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(tmp_path, corpus)
    ingest(settings, HashingEmbedder())
    served = LocalLocation(settings.index_dir).current()
    embedder = CountingEmbedder()
    report = ingest(settings, embedder)
    assert embedder.seen == [] and report.added == 0 and report.deleted == 0
    assert LocalLocation(settings.index_dir).current() == served
    assert make_plan(settings).is_noop


def test_edit_add_delete_touch_only_those_documents(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(tmp_path, corpus)
    ingest(settings, HashingEmbedder())
    before = ids_by_doc(settings)

    pimples = corpus / "pimples-after-microneedling.txt"
    pimples.write_text(pimples.read_text(encoding="utf-8").replace("within a few days to a week", "within about five days", 1), encoding="utf-8")
    (corpus / "sunscreen.md").write_text("# Sun care\n\nWear a broad-spectrum sunscreen every day while the skin heals.\n", encoding="utf-8")
    (corpus / "micro-needling-gone-wrong.txt").unlink()

    plan = make_plan(settings)
    assert plan.added == ("sunscreen.md",)
    assert plan.changed == ("pimples-after-microneedling.txt",)
    assert plan.removed == ("micro-needling-gone-wrong.txt",)

    embedder = CountingEmbedder()
    ingest(settings, embedder)
    after = ids_by_doc(settings)
    guide = "microneedling-bad-reactions-guide.txt"
    assert after[guide] == before[guide]
    changed_new = after["pimples-after-microneedling.txt"] - before["pimples-after-microneedling.txt"]
    assert 0 < len(changed_new) < len(before["pimples-after-microneedling.txt"])
    # Only passages (and their sentences) of the changed and the added document were embedded.
    from assistant.corpus.chunking import chunk_documents, embedding_text
    from assistant.corpus.cleaning import load_corpus
    from assistant.index.ingest import sentence_records

    new_chunks = [c for c in chunk_documents(load_corpus(corpus)[0]) if c.chunk_id in changed_new | after["sunscreen.md"]]
    expected = [embedding_text(c) for c in new_chunks] + [r.text for c in new_chunks for r in sentence_records(c)]
    assert sorted(embedder.seen) == sorted(expected)
    assert {c.doc_id for c in new_chunks} == {"pimples-after-microneedling.txt", "sunscreen.md"}

    stored = open_served(LocalLocation(settings.index_dir), HashingEmbedder()).passage_ids()
    assert stored == set().union(*after.values())
    assert not (before["micro-needling-gone-wrong.txt"] & stored)


def test_changed_chunk_size_rebuilds(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(tmp_path, corpus)
    ingest(settings, HashingEmbedder())
    smaller = Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": settings.index_dir, "model": "hashing", "chunk_size": 300})
    plan = make_plan(smaller)
    assert plan.rebuild and len(plan.to_embed) == len(plan.chunks)
    report = ingest(smaller, HashingEmbedder())
    assert report.rebuilt
    assert open_served(LocalLocation(settings.index_dir), HashingEmbedder()).passage_ids() == {c.chunk_id for c in plan.chunks}


def test_swap_in_a_different_corpus(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(tmp_path, corpus)
    ingest(settings, HashingEmbedder())
    assistant = Assistant.load(settings, HashingEmbedder())
    question = "a fever or chills following microneedling could indicate an infection"
    assert not assistant.ask(question).abstained

    for f in corpus.iterdir():
        f.unlink()
    (corpus / "tattoo-aftercare.md").write_text(
        "# Tattoo aftercare\n\nWash the new tattoo gently with lukewarm water and fragrance-free soap twice a day.\n\n"
        "## Itching\n\nA new tattoo often itches while it heals; do not scratch or pick at the scabs.\n",
        encoding="utf-8",
    )
    ingest(settings, HashingEmbedder())
    assert assistant.index_changed()
    assistant.reload()
    assert not assistant.index_changed()
    assert assistant.info.documents == 1
    new = assistant.ask("wash the new tattoo gently with lukewarm water and fragrance-free soap")
    assert not new.abstained and {c.doc for c in new.citations} == {"tattoo-aftercare.md"}
    old = assistant.ask(question)
    assert old.abstained
    for mode in ("bm25", "dense", "hybrid"):
        hits = assistant.retrievers[mode].retrieve(question, 10)
        assert {h.chunk.doc_id for h in hits} <= {"tattoo-aftercare.md"}


KILLABLE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from assistant.config import Settings
    from assistant.index.embedding import HashingEmbedder
    from assistant.index.ingest import ingest

    class Slow(HashingEmbedder):
        calls = 0
        def embed_documents(self, texts):
            Slow.calls += 1
            if Slow.calls == 3:
                Path(sys.argv[3]).write_text("midway")
                time.sleep(60)
            return super().embed_documents(texts)

    settings = Settings.resolve(env={}, flags={"corpus_dir": sys.argv[1], "index_dir": sys.argv[2], "model": "hashing", "chunk_size": 200})
    ingest(settings, Slow())
    """
)


def test_a_killed_ingest_leaves_the_served_index_intact(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(tmp_path, corpus)
    ingest(settings, HashingEmbedder())
    served = LocalLocation(settings.index_dir).current()
    before = open_served(LocalLocation(settings.index_dir), HashingEmbedder()).passage_ids()

    marker = tmp_path / "midway"
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(corpus), str(settings.index_dir), str(marker)])
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), "the ingest never reached the middle"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    assert LocalLocation(settings.index_dir).current() == served
    assistant = Assistant.load(settings, HashingEmbedder())
    assert assistant.store.passage_ids() == before
    assert not assistant.ask("a fever or chills following microneedling could indicate an infection").abstained

    report = ingest(Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": settings.index_dir, "model": "hashing", "chunk_size": 200}), HashingEmbedder())
    assert report.rebuilt
    assert LocalLocation(settings.index_dir).current() != served
    leftovers = [p for p in settings.index_dir.glob("gen-*") if not (p / "manifest.json").exists()]
    assert leftovers == []


def test_dry_run_touches_nothing(tmp_path: Path, corpus: Path, capsys) -> None:
    from assistant import cli

    code = cli.main(["ingest", "--dry-run", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", "hashing"])
    out = capsys.readouterr().out
    assert code == 0 and "added       3" in out and "passages to embed" in out
    assert not (tmp_path / "index").exists()


def test_near_duplicate_documents_are_reported(tmp_path: Path, corpus: Path, capsys) -> None:
    from assistant import cli

    text = (corpus / "pimples-after-microneedling.txt").read_text(encoding="utf-8")
    (corpus / "pimples-copy.txt").write_text(text.replace("Toronto", "Ottawa", 1) + "\nSaved from the clinic site.\n",
                                             encoding="utf-8")
    args = ["ingest", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", "hashing"]
    assert cli.main([*args, "--dry-run"]) == 0
    assert "warning   pimples-copy.txt repeats pimples-after-microneedling.txt" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert "Warning: pimples-copy.txt repeats" in capsys.readouterr().out


def test_large_collections_are_read_in_pages(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    from assistant.index import store as store_module
    from assistant.index.derived import Derived

    settings = settings_for(tmp_path, corpus)
    ingest(settings, HashingEmbedder())
    store = open_served(LocalLocation(settings.index_dir), HashingEmbedder())
    whole = Derived.build(store)
    monkeypatch.setattr(store_module, "READ_PAGE", 7)  # many pages for a small corpus
    paged = Derived.build(store)
    assert paged.chunks == whole.chunks
    assert (paged.offsets == whole.offsets).all() and (paged.vectors == whole.vectors).all()
    assert len(store.passage_ids()) == len(whole.chunks)
