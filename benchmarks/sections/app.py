"""app: ``python app.py`` from start to the first answer returned to gradio_client.

``App`` is the running app; bench.py starts it once for this section and the load
section, and stops it after both.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from html import unescape
from typing import Any

from harness import ENV, PY, ROOT, Bench, Row, free_port, now, row


def content(message: dict[str, Any]) -> str:
    """The text of one chat message as gradio_client returns it (a string or a list of parts)."""
    value = message.get("content", "")
    if isinstance(value, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value)
    return str(value)


def visible_text(markup: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", markup))


class App:
    """``python app.py`` on a free loopback port, as a patient would reach it."""

    def __init__(self, b: Bench) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = (b.work / f"app-{self.port}.log").open("w")
        self.started = now()
        self.proc = subprocess.Popen(
            [PY, "app.py", "--index", str(b.settings.index_dir), "--corpus", str(b.corpus), "--port", str(self.port)],
            env=ENV, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_first_answer(self, timeout: float = 240) -> dict[str, float]:
        from gradio_client import Client

        listening = None
        deadline = self.started + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited {self.proc.returncode}; see its log")
            if listening is None:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                        listening = now() - self.started
            if listening is not None:
                try:
                    messages, *_ = Client(self.url, verbose=False).predict("Is redness normal?", api_name="/chat")
                    if messages and content(messages[-1]):
                        return {"port_open_s": round(listening, 3), "first_answer_s": round(now() - self.started, 3)}
                except Exception:  # noqa: BLE001 - not ready yet
                    pass
            time.sleep(0.2)
        raise TimeoutError(f"no answer from app.py within {timeout} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def run(app: App) -> dict[str, float]:
    """Seconds from starting ``app`` until its port opened and until its first answer came back."""
    return app.wait_first_answer()


def rows(a: dict[str, Any]) -> list[Row]:
    if not a.get("first_answer_s"):
        return []
    return [row("cold start: app.py to first answer, s", a["first_answer_s"], f"port open at {a['port_open_s']} s")]
