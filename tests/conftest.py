"""Shared fixtures.

The real embedding model and a real Chroma index of the bundled corpus are
built once per test session (``real_settings`` / ``real_assistant``); unit
tests use the hashing embedder, which needs no model.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's ASSISTANT_* settings."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") or name in ("CHROMA_HOST", "CHROMA_PORT"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def real_embedder():
    """The default model, as a user gets it (all-MiniLM-L6-v2 exported to ONNX, cached)."""
    from assistant.config import DEFAULT_MODEL
    from assistant.index.embedding import load_embedder

    return load_embedder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory, real_embedder):
    """Settings pointing at a real index of a copy of the bundled corpus."""
    from assistant.config import Settings
    from assistant.index.ingest import ingest

    base = tmp_path_factory.mktemp("real")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": base / "index"})
    ingest(settings, real_embedder)
    return settings


@pytest.fixture(scope="session")
def real_assistant(real_settings, real_embedder):
    from assistant.pipeline import Assistant

    return Assistant.load(real_settings, real_embedder)


@pytest.fixture()
def hashing_settings(tmp_path: Path):
    """A fresh index of the bundled corpus built with the hashing embedder (no model)."""
    from assistant.config import Settings
    from assistant.index.embedding import HashingEmbedder
    from assistant.index.ingest import ingest

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings.resolve(
        env={}, flags={"corpus_dir": corpus, "index_dir": tmp_path / "index", "model": "hashing"}
    )
    ingest(settings, HashingEmbedder())
    return settings


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_app(assistant: Any, feedback: Any = None) -> tuple[Any, str]:
    """The real chat app on a free loopback port: (the Gradio app, to close; its URL)."""
    from assistant import ui

    demo = ui.build_app(assistant, feedback=feedback)
    port = free_port()
    ui.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def app_url(real_assistant) -> Iterator[str]:
    """The chat on the real index, served once for the session; closed afterwards."""
    demo, url = serve_app(real_assistant)
    try:
        yield url
    finally:
        demo.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The hostile-input, fault and privacy counts (tests/tally.py), when this run recorded any."""
    from tests import tally

    if tally.recorded():
        terminalreporter.section("robustness (issue #17)")
        for line in tally.summary_lines():
            terminalreporter.write_line(line)
        tally.write(ROOT / "test-artifacts" / "robustness.json")
