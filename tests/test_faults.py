"""Faults at start (issue #17): a damaged index or a Chroma server that is down never costs a notice.

Real components: copies of the session's real index (real model, real
Chroma), damaged on disk; the real CLI as a separate process; the real chat
server answered through gradio_client. Each fault is counted in tests/tally.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import tally
from tests.conftest import ROOT, free_port, serve_app

pytestmark = pytest.mark.integration

RED_FLAG = "I have a fever and pus coming out of my cheek 3 days after microneedling"
EMERGENCY = "my throat is swelling and it's hard to breathe after microneedling"


def served_database(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip() / "chroma" / "chroma.sqlite3"


def truncate(index: Path) -> None:
    with open(served_database(index), "r+b") as db:
        db.truncate(4096)


def delete(index: Path) -> None:
    served_database(index).unlink()


def scramble(index: Path) -> None:
    database = served_database(index)
    data = bytearray(database.read_bytes())
    data[100:8192] = os.urandom(8092)
    database.write_bytes(bytes(data))


FAULTS: dict[str, Callable[[Path], None]] = {"truncated": truncate, "deleted": delete, "scrambled": scramble}


def broken_copy(real_settings: Any, tmp_path: Path, fault: str) -> Path:
    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index)
    FAULTS[fault](index)
    return index


def cli(index: Path, model: str, *args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONIOENCODING": "utf-8:strict", **env}
    command = [sys.executable, "-m", "assistant.cli", "ask", "--index", str(index), "--model", model, *args]
    done = subprocess.run(command, input=stdin, capture_output=True, env=environment, timeout=300)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8"),
                                       done.stderr.decode("utf-8", "replace"))


def assert_unavailable_with_notice(payload: dict[str, Any], level: str) -> None:
    assert payload["triage"]["level"] == level and payload["notice"]
    assert payload["answerer"] == "unavailable" and payload["error"] == "knowledge base unavailable"
    assert payload["degraded"] and "knowledge base unavailable" in payload["degraded"][0]
    assert "unavailable" in payload["answer"]


def check_cli(index: Path, model: str, **env: str) -> None:
    """ask --json and ask --jsonl on a broken index: the notice, an honest answer, no traceback."""
    tally.fault_injected(2)
    one = cli(index, model, "--json", RED_FLAG, **env)
    assert one.returncode == 0 and "Traceback" not in one.stderr, one.stderr[-1500:]
    assert "escalation notices only" in one.stderr  # the operator is told, in one line
    assert_unavailable_with_notice(json.loads(one.stdout), "urgent")
    tally.fault(red_flag=True, notice_kept=True)
    lines = "\n".join(json.dumps({"question": q}) for q in (RED_FLAG, EMERGENCY, "is redness normal?"))
    many = cli(index, model, "--jsonl", stdin=lines.encode(), **env)
    assert many.returncode == 0 and "Traceback" not in many.stderr, many.stderr[-1500:]
    out = [json.loads(line) for line in many.stdout.splitlines()]
    assert len(out) == 3
    assert_unavailable_with_notice(out[0], "urgent")
    assert_unavailable_with_notice(out[1], "emergency")
    assert out[2]["notice"] is None and out[2]["answerer"] == "unavailable"
    tally.fault(red_flag=True, notice_kept=True)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_cli_on_a_damaged_index_keeps_the_notice(fault: str, real_settings, tmp_path: Path) -> None:
    check_cli(broken_copy(real_settings, tmp_path, fault), real_settings.model)


def test_cli_with_the_chroma_server_down_keeps_the_notice(real_settings, tmp_path: Path) -> None:
    check_cli(tmp_path / "unused", real_settings.model, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(free_port()))


def test_a_deleted_database_is_never_silently_keyword_search(real_settings, real_embedder, tmp_path: Path) -> None:
    from assistant.pipeline import Assistant

    tally.fault_injected()
    index = broken_copy(real_settings, tmp_path, "deleted")
    settings = real_settings.__class__.resolve(env={}, flags={"index_dir": index, "corpus_dir": real_settings.corpus_dir})
    assistant = Assistant.load(settings, real_embedder)
    assert assistant.info.degraded and "chroma.sqlite3 is missing" in assistant.info.degraded[0]
    assert not served_database(index).exists(), "opening it must not create an empty database"
    answer = assistant.ask(RED_FLAG).to_dict()
    assert_unavailable_with_notice(answer, "urgent")
    tally.fault(red_flag=True, notice_kept=True)


def test_the_app_starts_on_a_damaged_index_keeps_notices_and_recovers_after_ingest(
    real_settings, real_embedder, tmp_path: Path
) -> None:
    from gradio_client import Client

    from assistant.ui import render as ui
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    tally.fault_injected()
    index = broken_copy(real_settings, tmp_path, "truncated")
    settings = real_settings.__class__.resolve(env={}, flags={"index_dir": index, "corpus_dir": real_settings.corpus_dir})
    assistant = Assistant.load(settings, real_embedder)
    demo, url = serve_app(assistant)
    try:
        client = Client(url, verbose=False)
        messages, _, _ = client.predict(RED_FLAG, api_name="/chat")
        reply = str(messages[-1]["content"])
        assert "mn-notice-urgent" in reply and "knowledge base is unavailable" in reply
        assert ui.DEGRADED_STATUS in demo.assistant_service.info_html()
        tally.fault(red_flag=True, notice_kept=True)

        ingest(settings, real_embedder)  # the operator's fix: rebuilds the damaged index
        assert demo.assistant_watcher.check() is True  # what the watcher does within 10 s
        assert not assistant.info.degraded and ui.DEGRADED_STATUS not in demo.assistant_service.info_html()
        messages, _, _ = client.predict(RED_FLAG, api_name="/chat")
        reply = str(messages[-1]["content"])
        assert "mn-notice-urgent" in reply and "mn-cite" in reply
    finally:
        demo.close()


def _copy_with_a_new_document(real_settings: Any, tmp_path: Path) -> tuple[Any, Path, list[str]]:
    """A copy of the real index and corpus, with one new document for ingest to embed."""
    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index)
    corpus = tmp_path / "corpus"
    shutil.copytree(real_settings.corpus_dir, corpus)
    (corpus / "new.md").write_text("# Ice\n\nA cold compress can soothe the skin after microneedling.\n")
    settings = real_settings.__class__.resolve(env={}, flags={"index_dir": index, "corpus_dir": corpus})
    return settings, index, sorted(p.name for p in index.iterdir())


def test_a_failed_ingest_leaves_no_partial_generation(real_settings, real_embedder, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.index.derived import Derived
    from assistant.errors import AssistantError
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    tally.fault_injected()
    settings, index, before = _copy_with_a_new_document(real_settings, tmp_path)

    def disk_full(self: Any, folder: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Derived, "save", disk_full)
    with pytest.raises(AssistantError, match="No space left on device.*run `assistant ingest` again"):
        ingest(settings, real_embedder)
    assert sorted(p.name for p in index.iterdir()) == before, "the partial generation is removed"
    monkeypatch.undo()
    answer = Assistant.load(settings, real_embedder).ask(RED_FLAG)
    assert answer.notice and answer.citations, "the old index still loads and answers"
    tally.fault(red_flag=True, notice_kept=True)


def read_only_prefix(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` is read-only, even for root (a read-only bind mount)."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return []
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to make a folder read-only for root: apt-get install util-linux")
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, "sh"]


def test_cli_on_a_read_only_index_keeps_the_notice(real_settings, tmp_path: Path) -> None:
    tally.fault_injected()
    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, index)
    prefix = read_only_prefix(index)
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONIOENCODING": "utf-8:strict"}
    command = [*prefix, sys.executable, "-m", "assistant.cli", "ask", "--json", "--index", str(index),
               "--model", real_settings.model, RED_FLAG]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "writable" in done.stderr
    assert_unavailable_with_notice(json.loads(done.stdout), "urgent")
    tally.fault(red_flag=True, notice_kept=True)


def test_an_ingest_that_fills_the_disk_while_copying_leaves_the_old_index_serving(
    real_settings, real_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported case: the copy of the served generation hit a full disk, stayed, and the
    old index then could not open (no space left for its own database files)."""
    from assistant.index import locations
    from assistant.errors import AssistantError
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    tally.fault_injected()
    settings, index, before = _copy_with_a_new_document(real_settings, tmp_path)
    real_copy = shutil.copytree

    def copy_until_full(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        def copy_some(s: str, d: str, **kw: Any) -> Any:
            if s.endswith("chroma.sqlite3"):
                shutil.copyfile(s, d)  # a partial copy is on disk when the disk fills
                raise OSError(errno.ENOSPC, "No space left on device")
            return shutil.copy2(s, d)
        if args:  # copytree calls itself for sub-folders, positionally
            return real_copy(src, dst, *args, **kwargs)
        return real_copy(src, dst, copy_function=copy_some, **kwargs)

    monkeypatch.setattr(locations.shutil, "copytree", copy_until_full)
    with pytest.raises(AssistantError, match="No space left on device. Free some space"):
        ingest(settings, real_embedder)
    monkeypatch.undo()
    assert sorted(p.name for p in index.iterdir()) == before, "the partial copy is removed"
    answer = Assistant.load(settings, real_embedder).ask(RED_FLAG)
    assert answer.notice and answer.citations
    tally.fault(red_flag=True, notice_kept=True)


def test_app_py_starts_on_a_damaged_index_and_keeps_the_notice(real_settings, tmp_path: Path) -> None:
    """The real entry point, as an operator starts it: no traceback, a one-line warning, notices."""
    import time

    import httpx
    from gradio_client import Client

    tally.fault_injected()
    index = broken_copy(real_settings, tmp_path, "scrambled")
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONIOENCODING": "utf-8:strict"}
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--index", str(index), "--corpus",
                            str(real_settings.corpus_dir), "--port", str(port)],
                           env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and app.poll() is None:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert app.poll() is None, f"the app exited: {app.stderr.read()[-1500:] if app.stderr else ''}"
        messages, _, _ = Client(url, verbose=False).predict(EMERGENCY, api_name="/chat")
        reply = str(messages[-1]["content"])
        assert "mn-notice-emergency" in reply and "knowledge base is unavailable" in reply
    finally:
        app.terminate()
        _, err = app.communicate(timeout=30)
    assert "Traceback" not in err and "escalation notices only" in err
    tally.fault(red_flag=True, notice_kept=True)


def test_ingest_rebuild_repairs_an_index_damaged_inside(real_settings, tmp_path: Path) -> None:
    """A scrambled database keeps a whole header, so a plain ingest of an unchanged corpus has
    nothing to do; the warning names `ingest --rebuild`, and that repairs it."""
    tally.fault_injected()
    index = broken_copy(real_settings, tmp_path, "scrambled")
    before = cli(index, real_settings.model, "--json", RED_FLAG)
    assert "assistant ingest --rebuild" in before.stderr
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "--rebuild", "--index", str(index),
                           "--corpus", str(real_settings.corpus_dir), "--model", real_settings.model],
                          capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0 and "full rebuild" in done.stdout, done.stderr[-1500:]
    after = json.loads(cli(index, real_settings.model, "--json", RED_FLAG).stdout)
    assert after["notice"] and after["citations"] and "error" not in after
    tally.fault(red_flag=True, notice_kept=True)
