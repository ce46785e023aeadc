"""Fast unit tests of what the server exposes and the caps on what it accepts (no server, no model)."""

from __future__ import annotations

import asyncio
from typing import Any

from assistant.ui import serving

from assistant.ui import service as ui
from assistant.schema import Turn


def call(path: str, length: int = 0) -> tuple[int, bytes, bool]:
    """Send one HTTP request through the guard; (status, body, whether the app behind it was reached)."""
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "path": path, "headers": [(b"content-length", str(length).encode())]}
    asyncio.run(serving.GuardMiddleware(app)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"], bool(reached)


def test_guard_refuses_deep_links_uploads_and_run_history() -> None:
    for path in ("/gradio_api/deep_link", "/gradio_api/upload", "/gradio_api/runs", "/gradio_api/runs/x",
                 "/gradio_api/run-history/records", "/upload", "/monitoring", "/app/gradio_api/upload"):
        status, _, reached = call(path)
        assert status in (403, 404) and not reached, path
    assert call("/gradio_api/upload")[1] == b"This chat takes no files."


def test_guard_lets_the_chat_through() -> None:
    for path in ("/", "/config", "/gradio_api/queue/join", "/gradio_api/call/chat", "/gradio_api/info"):
        assert call(path) == (200, b"ok", True), path


def test_launch_options_switch_off_history_uploads_and_telemetry() -> None:
    options = serving.launch_options("127.0.0.1", 7860)
    assert options["run_history"] is False and options["max_file_size"] == 0
    assert options["share"] is False and options["enable_monitoring"] is False and options["mcp_server"] is False
    assert options["app_kwargs"]["middleware"][0].cls is serving.GuardMiddleware


def test_watcher_reloads_only_when_a_new_index_is_published() -> None:
    published = [False, True, False]
    reloads: list[int] = []
    watcher = serving.IndexWatcher(lambda: published.pop(0), lambda: reloads.append(1))
    assert [watcher.check() for _ in range(3)] == [False, True, False] and reloads == [1]


def test_watcher_survives_a_failing_check() -> None:
    def down() -> bool:
        raise ConnectionError("chroma server down")

    assert serving.IndexWatcher(down, lambda: None).check() is False


def test_ui_caps_match_the_pipeline() -> None:
    from assistant import guards
    from assistant import pipeline

    assert ui.MAX_MESSAGE_CHARS == guards.MAX_MESSAGE_CHARS == pipeline.MAX_MESSAGE_CHARS
    assert ui.MAX_HISTORY_TURNS == guards.MAX_HISTORY_TURNS


def test_history_is_capped_to_the_latest_turns() -> None:
    from assistant.guards import MAX_HISTORY_CHARS, MAX_HISTORY_TURNS, cap_history

    turns = [Turn("user", f"turn {n} " + "x" * 5000) for n in range(40)]
    kept = cap_history(turns)
    assert len(kept) <= MAX_HISTORY_TURNS and sum(len(t.content) for t in kept) <= MAX_HISTORY_CHARS
    assert kept[-1] == turns[-1]  # the latest turn is always kept whole


def test_a_long_message_is_shown_by_its_start() -> None:
    shown = ui.shown_message("fever " * 10_000)
    assert shown.startswith("fever ") and len(shown) < 1000 and "60,000 characters" in shown
    assert ui.shown_message("short") == "short"


def test_guard_refuses_a_body_of_megabytes_but_not_a_long_message() -> None:
    assert call("/gradio_api/queue/join", length=serving.MAX_BODY_BYTES + 1)[0] == 413
    assert call("/gradio_api/queue/join", length=1_000_000) == (200, b"ok", True)  # a 1 MB message gets its note


def test_output_lines_survive_strict_and_narrow_encodings() -> None:
    import io
    import json

    from assistant.cli import dumps, write_line

    for encoding in ("utf-8", "latin-1", "ascii"):
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict")
        write_line(dumps({"answer": "café \ud800 fever", "n": 1}), stream)
        write_line("!! Call a doctor — café \x1b", stream)
        stream.flush()
        first, second = raw.getvalue().decode(encoding).splitlines()
        assert json.loads(first) == {"answer": "café \ud800 fever", "n": 1}
        assert second.startswith("!! Call a doctor")


def test_text_answers_never_send_escapes_to_the_terminal() -> None:
    from assistant.cli import terminal_safe

    assert terminal_safe("!! notice\n\n[1] Title\x1b[2J — Section\u202e") == "!! notice\n\n[1] Title\\x1b[2J — Section\\u202e"


class FakeDemo:
    """Enough of gr.Blocks for serving.launch: it records the options and "serves" nothing."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}
        self.closed = False

    def queue(self, **_: Any) -> FakeDemo:
        return self

    def launch(self, **options: Any) -> None:
        self.options = options
        (serving.private_temp_dir() / "deep_links").mkdir(exist_ok=True)  # what a request might leave

    def close(self) -> None:
        self.closed = True


def test_the_temp_folder_is_emptied_when_the_last_app_of_the_process_closes() -> None:
    folder = serving.private_temp_dir()
    running = serving._running
    first, second = FakeDemo(), FakeDemo()
    serving.launch(first, "127.0.0.1", 1, prevent_thread_lock=True)
    serving.launch(second, "127.0.0.1", 2, prevent_thread_lock=True)
    assert first.options["run_history"] is False and (folder / "deep_links").exists()
    first.close()
    if running == 0:  # no real app of this test session is serving from it
        assert (folder / "deep_links").exists(), "another app still serves from it"
        second.close()
        assert not any(folder.iterdir())
    else:
        second.close()
    assert first.closed and second.closed and serving._running == running
