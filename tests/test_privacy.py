"""Privacy and exposure of the served chat (issue #17): nothing a user types is stored or sent.

Real components: the chat on the session's real index, Gradio's own HTTP
routes, Debian's chromium through playwright, and the app as a separate
process traced with strace, so every DNS lookup and connection attempt of
every thread (onnxruntime's native ones too) is seen.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import tally
from tests.conftest import ROOT, free_port
from tests.test_browser import ask as ask_in_browser
from tests.test_browser import browser, page_at  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

MARK = "zqvmarker"  # a word no page, model or library contains, so any hit is the user's text
QUESTION = f"{MARK} is redness normal two days after microneedling?"
RED_FLAG = f"{MARK} I have a fever and pus coming out of my cheek 3 days after microneedling"
STORAGE_JS = """async () => {
  const dump = { local: JSON.stringify(Object.entries(localStorage)),
                 session: JSON.stringify(Object.entries(sessionStorage)),
                 cookie: document.cookie, idb: [], caches: [] };
  for (const info of (await indexedDB.databases())) {
    const db = await new Promise((ok, no) => { const r = indexedDB.open(info.name); r.onsuccess = () => ok(r.result);
                                               r.onerror = () => no(r.error); });
    for (const name of Array.from(db.objectStoreNames)) {
      const rows = await new Promise((ok) => { const r = db.transaction(name).objectStore(name).getAll();
                                               r.onsuccess = () => ok(r.result); r.onerror = () => ok([]); });
      dump.idb.push(info.name + '/' + name + ':' + JSON.stringify(rows));
    }
    db.close();
  }
  for (const key of (await caches.keys())) dump.caches.push(key);
  return dump;
}"""


def gradio_temp_dir() -> Path:
    return Path(os.environ["GRADIO_TEMP_DIR"])


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# ---------------------------------------------------------------- the browser


def test_nothing_typed_is_left_in_the_browser(page_at: Any, app_url: str) -> None:  # noqa: F811
    page = page_at(app_url)
    ask_in_browser(page, QUESTION)
    ask_in_browser(page, RED_FLAG)
    time.sleep(1.0)  # gradio writes run history after the event completes
    dump = page.evaluate(STORAGE_JS)
    cookies = page.context.cookies()
    for where in ("local", "session", "cookie"):
        assert MARK not in dump[where], f"the question is in {where}Storage/cookies: {dump[where][:300]}"
    assert not any(MARK in row for row in dump["idb"]), "the question is in IndexedDB"
    assert not any(MARK in str(c) for c in cookies)
    assert "run-history" not in dump["local"], "gradio's run history is on"
    for name in ("localStorage", "sessionStorage", "IndexedDB", "cookies"):
        tally.privacy(f"browser: nothing typed in {name}")


# ---------------------------------------------------------------- the server's routes


def test_run_history_deep_links_and_uploads_are_closed(app_url: str) -> None:
    from gradio_client import Client

    Client(app_url, verbose=False).predict(QUESTION, api_name="/chat")
    with httpx.Client(base_url=app_url, timeout=30) as http:
        assert http.get("gradio_api/runs").status_code == 404
        assert http.get("gradio_api/run-history/records").status_code == 404
        assert http.get("gradio_api/deep_link", params={"session_hash": "abc"}).status_code == 404
        upload = http.post("gradio_api/upload", files={"files": ("note.txt", f"{MARK} secret".encode())})
        assert upload.status_code == 403 and "no files" in upload.text
        empty = http.post("gradio_api/upload", files={"files": ("empty.txt", b"")})
        assert empty.status_code == 403
        assert http.get("monitoring").status_code == 404
        config = http.get("config").json()
    assert config.get("run_history") is False and config.get("max_file_size") == 0
    for name in ("no run history page", "no deep links", "no uploads", "no monitoring"):
        tally.privacy(f"server: {name}")


def test_gradio_temp_folder_is_private_and_holds_nothing_typed(app_url: str) -> None:
    from gradio_client import Client

    folder = gradio_temp_dir()
    assert folder.name.startswith(f"assistant-gradio-{os.getpid()}-")
    Client(app_url, verbose=False).predict(RED_FLAG, api_name="/chat")
    with httpx.Client(base_url=app_url, timeout=30) as http:
        http.get("gradio_api/deep_link", params={"session_hash": "x"})
    assert not (folder / "deep_links").exists()
    leaked = [p for p in files_under(folder) if MARK.encode() in p.read_bytes()]
    assert leaked == []
    tally.privacy("server: nothing typed in gradio's temp folder")


def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    from assistant.ui.serving import TEMP_PREFIX, remove_stale_temp_dirs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{TEMP_PREFIX}{dead.stdout.strip()}-x"
    (stale / "deep_links" / "abc").mkdir(parents=True)
    (stale / "deep_links" / "abc" / "state.json").write_text(MARK)
    alive = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-y"
    alive.mkdir()
    assert remove_stale_temp_dirs(tmp_path) == [stale]
    assert not stale.exists() and alive.exists()
    tally.privacy("server: a crashed run's temp folder is removed at the next start")


def test_a_message_over_the_cap_gets_a_note_and_keeps_its_notice(app_url: str, real_assistant) -> None:
    from gradio_client import Client

    from assistant.guards import MAX_MESSAGE_CHARS

    message = RED_FLAG + " and it itches." * 2000
    assert len(message) > MAX_MESSAGE_CHARS
    messages, _, _ = Client(app_url, verbose=False).predict(message, api_name="/chat")
    reply = str(messages[-1]["content"])
    assert "mn-notice-urgent" in reply
    assert "characters long" in reply and "shorter message" in reply
    assert len(str(messages[0]["content"])) < 2000  # the chat does not echo the whole megabyte back
    tally.hostile_tried()
    tally.hostile(red_flag=True, escalated=True)


# ---------------------------------------------------------------- the network

TRACE = ("strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg,sendmmsg,openat")
_LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|inet_pton\(AF_INET6, "::ffff:127\.')


def strace_or_fail() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.fail("strace is not installed; the network test needs it: `apt-get install -y strace` (make test does).")
    return found


def outside_attempts(trace: str) -> list[str]:
    """The lines of an strace log that look something up or connect beyond this machine."""
    bad = []
    for line in trace.splitlines():
        if "connect(" in line:
            if "AF_UNIX" in line:
                if "nscd" in line:
                    bad.append(line)  # a name lookup through the name-service cache
            elif "AF_INET" in line and not _LOOPBACK.search(line):
                bad.append(line)
            elif "htons(53)" in line:
                bad.append(line)
        elif re.search(r"send(to|msg|mmsg)\(", line) and "events" in line and "microsoft" in line.lower():
            bad.append(line)
        elif "openat(" in line and ("/etc/resolv.conf" in line or "Microsoft/DeveloperTools" in line) \
                and "ENOENT" not in line:
            bad.append(line)
    return bad


def stop_group(process: subprocess.Popen[str], grace_s: float = 30.0) -> None:
    """Stop strace and the app it traces (one process group): Ctrl+C, then SIGKILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()  # reap strace, so that only live members keep the group
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break  # the whole group has exited
        time.sleep(0.2)
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def test_the_recorder_sees_a_dns_lookup(tmp_path: Path) -> None:
    """Control: the tracer would catch a lookup, so an empty record below means something."""
    log = tmp_path / "trace.txt"
    code = "import socket\ntry: socket.getaddrinfo('mobile.events.data.microsoft.com', 443)\nexcept OSError: pass"
    subprocess.run([strace_or_fail(), *TRACE[1:], "-o", str(log), sys.executable, "-c", code], timeout=60, check=True)
    assert outside_attempts(log.read_text(errors="replace"))


def test_the_app_makes_no_lookup_or_connection_while_serving(tmp_path: Path, real_settings) -> None:
    from gradio_client import Client

    port = free_port()
    log = tmp_path / "trace.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the app must set it itself
    command = [strace_or_fail(), *TRACE[1:], "-o", str(log), sys.executable, str(ROOT / "app.py"),
               "--index", str(real_settings.index_dir), "--corpus", str(real_settings.corpus_dir), "--port", str(port)]
    # Its own process group: strace detaches on a signal and would leave the app running.
    app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the app did not start: {app.stderr.read() if app.poll() is not None else 'still starting'}")
        started = time.monotonic()
        client = Client(url, verbose=False)
        for question in (QUESTION, RED_FLAG, "best pizza in Toronto"):
            client.predict(question, api_name="/chat")
        time.sleep(max(0.0, 12.0 - (time.monotonic() - started)))  # onnxruntime's telemetry ran every ~10 s
    finally:
        stop_group(app)
    trace = log.read_text(errors="replace")
    assert "connect(" in trace  # the trace did record (gradio checks its own loopback port)
    assert outside_attempts(trace) == []
    tally.privacy("network: no DNS lookup or outside connection while serving")
    tally.privacy("disk: no onnxruntime device id written")


def test_the_operator_reloads_with_sighup_and_nobody_else_can(tmp_path: Path, real_settings, real_embedder) -> None:
    from gradio_client import Client

    from assistant.index.ingest import ingest

    index, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(real_settings.index_dir, index)
    shutil.copytree(real_settings.corpus_dir, corpus)
    port, log = free_port(), tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with open(log, "w") as err:
        app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--index", str(index), "--corpus", str(corpus),
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=err,
                               start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while "Reload the index with: kill -HUP" not in log.read_text() or not _up(url):
            assert time.monotonic() < deadline and app.poll() is None, log.read_text()[-1500:]
            time.sleep(0.5)
        endpoints = Client(url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert set(endpoints) == {"/chat"}, endpoints  # nothing else is public by name
        (corpus / "ice.md").write_text("# Ice\n\nA cold compress can soothe the skin after microneedling.\n")
        settings = real_settings.__class__.resolve(env={}, flags={"index_dir": index, "corpus_dir": corpus})
        ingest(settings, real_embedder)
        os.kill(app.pid, signal.SIGHUP)
        while "Reloaded: 4 documents" not in log.read_text():
            assert time.monotonic() < deadline and app.poll() is None, log.read_text()[-1500:]
            time.sleep(0.5)
    finally:
        stop_group(app)
    tally.privacy("server: reload is the operator's alone (SIGHUP; no endpoint)")


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
