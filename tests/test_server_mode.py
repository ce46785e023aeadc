"""Server mode: the same ingest and ask against a real `chroma run` server on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

from assistant import cli
from assistant.config import Settings
from assistant.index.embedding import HashingEmbedder
from assistant.errors import StoreUnavailableError
from assistant.index.ingest import ingest
from assistant.pipeline import Assistant
from assistant.index.locations import ServerLocation

ROOT = Path(__file__).resolve().parents[1]
FEVER = "a fever or chills following microneedling could indicate an infection"


class ChromaServer:
    """A real Chroma server process on 127.0.0.1, stoppable and restartable on the same data."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = Path(sys.executable).with_name("chroma")
        log = open(self.data.parent / "chroma.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [str(exe), "run", "--path", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"chroma run did not start; see {self.data.parent / 'chroma.log'}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChromaServer]:
    srv = ChromaServer(tmp_path / "chroma-data")
    srv.start()
    yield srv
    srv.stop()


def settings_for(tmp_path: Path, server: ChromaServer, corpus: Path) -> Settings:
    return Settings.resolve(
        env={"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port)},
        flags={"corpus_dir": corpus, "index_dir": tmp_path / "clinic-index", "model": "hashing",
               "home": tmp_path / "worker-home"},
    )


def test_ingest_and_ask_through_the_server(tmp_path: Path, server: ChromaServer, capsys) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = settings_for(tmp_path, server, corpus)
    report = ingest(settings, HashingEmbedder())
    assert report.added == report.chunks > 0
    assert not (tmp_path / "clinic-index").exists()  # nothing local: the server holds it all

    first = ServerLocation("127.0.0.1", server.port, "clinic-index").current()
    assert ingest(settings, HashingEmbedder()).added == 0
    assert ServerLocation("127.0.0.1", server.port, "clinic-index").current() == first

    # Two "workers" over one server answer the same, and both see a new generation.
    workers = [Assistant.load(settings, HashingEmbedder()) for _ in range(2)]
    answers = [w.ask(FEVER) for w in workers]
    assert answers[0].to_dict() == answers[1].to_dict() and not answers[0].abstained
    (corpus / "pimples-after-microneedling.txt").unlink()
    ingest(settings, HashingEmbedder())
    for w in workers:
        assert w.index_changed()
        w.reload()
        assert w.info.documents == 2
    # Workers keep derived files per generation in their cache, only the newest two.
    cached = sorted(p.name for p in (tmp_path / "worker-home" / "derived").glob("*/gen-*"))
    assert ServerLocation("127.0.0.1", server.port, "clinic-index").current() in cached and len(cached) <= 2

    # The CLI reads CHROMA_HOST/CHROMA_PORT like any other setting.
    import os

    os.environ["CHROMA_HOST"], os.environ["CHROMA_PORT"] = "127.0.0.1", str(server.port)
    try:
        code = cli.main(["ask", "--json", "--index", str(tmp_path / "clinic-index"), "--model", "hashing", FEVER])
    finally:
        del os.environ["CHROMA_HOST"], os.environ["CHROMA_PORT"]
    assert code == 0 and '"abstained": false' in capsys.readouterr().out


def test_server_stopped_mid_session_keeps_escalating_and_recovers(tmp_path: Path, server: ChromaServer) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = settings_for(tmp_path, server, corpus)
    ingest(settings, HashingEmbedder())
    assistant = Assistant.load(settings, HashingEmbedder())
    assert not assistant.ask(FEVER).abstained

    server.stop()
    down = assistant.ask("I have a fever and pus. " + FEVER)
    assert down.triage.level == "urgent" and down.notice == assistant.texts.notices["urgent"]
    assert down.abstained and down.answer == assistant.texts.unavailable
    assert down.to_dict()["error"] == "knowledge base unavailable"

    server.start()
    back = assistant.ask(FEVER)
    assert not back.abstained and back.citations


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="chroma run"):
        ServerLocation("127.0.0.1", free_port(), "x")
