"""Calling a chat model without hanging: a deadline for one call, and for a stream between chunks.

A backend that never answers costs the caller ``timeout_s`` and no more: the call runs
in a daemon thread that is abandoned at the deadline.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

__all__ = ["ModelTimeout", "call_with_deadline", "describe", "stream_with_deadline", "text_of"]


class ModelTimeout(TimeoutError):
    pass


def call_with_deadline(fn: Callable[[], str], timeout_s: float) -> str:
    """Run ``fn`` in a daemon thread; give up after ``timeout_s`` whatever the backend does."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="llm-answerer", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ModelTimeout(f"no answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def stream_with_deadline(model: BaseChatModel, messages: list[BaseMessage], timeout_s: float) -> Iterator[str]:
    """Text deltas of ``model.stream``, read through a queue so the deadline holds between chunks too."""
    deadline = time.monotonic() + timeout_s
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def target() -> None:
        try:
            for chunk in model.stream(messages):
                if stop.is_set():
                    return  # leaving the loop closes the backend's stream
                chunks.put(("delta", text_of(chunk)))
            chunks.put(("end", None))
        except BaseException as exc:
            chunks.put(("error", exc))

    threading.Thread(target=target, name="llm-answerer-stream", daemon=True).start()
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                kind, value = chunks.get(timeout=max(remaining, 0.0)) if remaining > 0 else chunks.get_nowait()
            except queue.Empty:
                raise ModelTimeout(f"no complete answer within {timeout_s:g} s") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def text_of(message: Any) -> str:
    text = getattr(message, "text", message)
    return str(text) if text is not None else ""


def describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__
