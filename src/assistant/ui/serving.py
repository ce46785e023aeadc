"""Serving the chat: what the web server exposes, where it may write, and index reloads.

Gradio serves more than the chat. This module narrows it to what the product
promises ("nothing a user types is stored", "keep only chat and feedback
public"):

- no run history (Gradio would keep every question in the browser's
  localStorage and show it at ``/gradio_api/runs``);
- no deep links (``/gradio_api/deep_link`` writes a conversation to disk) and
  no uploads (the chat takes no files): both answer 404/403 before Gradio
  sees the request;
- Gradio's temp folder is a private one per process, emptied at start and
  removed at exit, and folders left by dead processes are removed;
- reloading the index is not an endpoint: the app notices an index published
  by ``assistant ingest`` (``IndexWatcher``), and the operator can force a
  reload with ``kill -HUP <pid>``;
- one page is added: ``/article/<doc id>``, the whole article behind "Read the
  whole article" (``article_routes``). Only ids of the served corpus answer;
  any other path is a 404, and the page may run no script and load nothing.

It imports no gradio: the middleware is plain ASGI, the article route is
starlette's, and ``launch`` is handed the Blocks that ``assistant.ui.layout`` built.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TEMP_PREFIX = "assistant-gradio-"
WATCH_INTERVAL_S = 10.0
# Paths nobody may call. Matched on the path with any root path removed.
BLOCKED = (
    (re.compile(r"(^|/)gradio_api/deep_link/?$"), 404, "Not found."),
    (re.compile(r"(^|/)gradio_api/runs(/.*)?$"), 404, "Not found."),
    (re.compile(r"(^|/)gradio_api/run-history(/.*)?$"), 404, "Not found."),
    (re.compile(r"(^|/)gradio_api/upload(_progress)?/?$"), 403, "This chat takes no files."),
    (re.compile(r"(^|/)upload/?$"), 403, "This chat takes no files."),
    (re.compile(r"(^|/)monitoring(/.*)?$"), 404, "Not found."),
)
# A request body the server reads at all. A message over 20,000 characters still gets its
# note and its notice (the pipeline's cap); this only stops megabytes at the door.
MAX_BODY_BYTES = 4_000_000
TOO_BIG = "Your message is far too long for this chat; please send a shorter one."
# The article page, relative to the app's root (render.ARTICLE_HREF links to it). ``path``: a doc id
# is a path relative to the corpus folder ("clinic/aftercare.md").
ARTICLE_ROUTE = "/article/{doc_id:path}"
NO_ARTICLE = "No such article."
# Defence in depth for pages made of document text (already escaped): no script, no loads, no framing.
ARTICLE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # a reload may change or remove the article
}
_temp_dir: Path | None = None
_temp_lock = threading.Lock()
_running = 0  # apps of this process serving from the temp folder


class _BodyTooBig(Exception):
    """A request body went past MAX_BODY_BYTES while it was being read."""


def _capped(receive: Any) -> Any:
    """``receive`` that counts body bytes and stops a body past MAX_BODY_BYTES."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise _BodyTooBig
        return message

    return wrapped


class GuardMiddleware:
    """Plain ASGI middleware: refuses the paths in ``BLOCKED`` with a short text reply."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            path = str(scope.get("path", ""))
            for pattern, code, text in BLOCKED:
                if pattern.search(path):
                    return await self._refuse(send, code, text)
            length = dict(scope.get("headers") or []).get(b"content-length", b"0")
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                return await self._refuse(send, 413, TOO_BIG)
            receive = _capped(receive)  # a chunked body has no length to check up front
        try:
            await self.app(scope, receive, send)
        except _BodyTooBig:
            await self._refuse(send, 413, TOO_BIG)

    @staticmethod
    async def _refuse(send: Any, code: int, text: str) -> None:
        body = text.encode("utf-8")
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temp_dirs(base: Path | None = None) -> list[Path]:
    """Remove the private temp folders of processes that are gone; returns what was removed."""
    base = base or Path(tempfile.gettempdir())
    removed = []
    for folder in base.glob(f"{TEMP_PREFIX}*"):
        match = re.match(rf"{re.escape(TEMP_PREFIX)}(\d+)-", folder.name)
        if match and folder.is_dir() and not folder.is_symlink() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def private_temp_dir() -> Path:
    """This process's own Gradio temp folder, set as GRADIO_TEMP_DIR (before gradio is imported).

    subtle: gradio reads GRADIO_TEMP_DIR when each app is created (uploads,
    deep links) and some caches read it at import, so this runs before
    ``import gradio``; one folder per process, removed at exit.
    """
    global _temp_dir
    with _temp_lock:
        if _temp_dir is None or not _temp_dir.is_dir():
            remove_stale_temp_dirs()
            _temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
            atexit.register(shutil.rmtree, _temp_dir, True)
        os.environ["GRADIO_TEMP_DIR"] = str(_temp_dir)
        return _temp_dir


def empty_folder(folder: Path) -> None:
    """Remove everything inside ``folder`` (not the folder itself)."""
    for entry in folder.iterdir() if folder.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def article_routes(page: Callable[[str], str | None]) -> list[Any]:
    """The article route: ``page(doc_id)`` gives the page's HTML, or None for a 404.

    ``page`` is the only thing that looks the id up (``service.Service.article_page``
    keeps it to the served corpus), so no id can name a file of the server.
    """
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    def article(request: Request) -> Response:  # sync: starlette runs it on a worker thread
        html = page(str(request.path_params["doc_id"]))
        if html is None:
            return PlainTextResponse(NO_ARTICLE, status_code=404, headers={"Cache-Control": "no-store"})
        return HTMLResponse(html, headers=ARTICLE_HEADERS)

    return [Route(ARTICLE_ROUTE, article, methods=["GET"], name="article")]


def merge_app_kwargs(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """FastAPI keyword arguments of two callers: middleware and routes add up, anything else ``extra`` wins.

    >>> merge_app_kwargs({"middleware": [1], "docs_url": None}, {"middleware": [2], "routes": [3]})
    {'middleware': [1, 2], 'docs_url': None, 'routes': [3]}
    """
    merged = {**base, **extra}
    for key in ("middleware", "routes"):
        if key in base and key in extra:
            merged[key] = [*base[key], *extra[key]]
    return merged


def launch_options(host: str, port: int) -> dict[str, Any]:
    """What ``Blocks.launch`` gets: loopback by default, nothing shared, stored or reported."""
    from starlette.middleware import Middleware

    return dict(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        show_error=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        run_history=False,  # else every question is kept in the browser's localStorage
        max_file_size=0,  # the smallest gradio allows; the middleware refuses uploads anyway
        footer_links=[],
        app_kwargs={"middleware": [Middleware(GuardMiddleware)]},
    )


def launch(demo: Any, host: str, port: int, **overrides: Any) -> Any:
    """Serve ``demo`` (a gr.Blocks) with ``launch_options``; ``overrides`` win, except that their
    ``app_kwargs`` add to the guard middleware (``merge_app_kwargs``) instead of replacing it.

    The temp folder is fresh at the first launch of a process; when the last app
    of the process closes it is emptied, and at exit it is removed.
    """
    global _running
    folder = private_temp_dir()
    options = launch_options(host, port)
    guard = options["app_kwargs"]
    options.update(overrides)
    options["app_kwargs"] = merge_app_kwargs(guard, overrides.get("app_kwargs") or {})
    original_close = demo.close
    closed = threading.Event()

    def release() -> None:
        global _running
        with _temp_lock:
            if not closed.is_set():
                closed.set()
                _running -= 1
                if _running == 0:  # apps of one process share the folder: empty it after the last
                    empty_folder(folder)

    def close(*args: Any, **kwargs: Any) -> Any:
        watcher = getattr(demo, "assistant_watcher", None)
        if watcher is not None:
            watcher.stop()
        try:
            return original_close(*args, **kwargs)
        finally:
            release()

    demo.close = close
    with _temp_lock:
        _running += 1
    try:
        result = demo.queue(default_concurrency_limit=4).launch(**options)
    except BaseException:
        release()  # it did not start, or it was stopped (Ctrl+C)
        raise
    if not options.get("prevent_thread_lock"):
        release()  # a blocking launch returns when the server has stopped
    return result


class IndexWatcher:
    """Reload when ``assistant ingest`` publishes a new index: the operator-only reload path.

    ``changed`` says whether a newer index is published (``Assistant.index_changed``);
    ``reload`` is called when it is. A check that fails (a Chroma server that
    is down) is logged and retried at the next interval.
    """

    def __init__(self, changed: Callable[[], bool], reload: Callable[[], Any],
                 interval_s: float = WATCH_INTERVAL_S) -> None:
        self.changed, self.reload, self.interval_s = changed, reload, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """One check; True when it reloaded."""
        try:
            if self.changed():
                self.reload()
                return True
        except Exception as exc:  # never take the chat down for a reload
            log.warning("Checking for a new index failed (%s); retrying in %.0f s.", exc, self.interval_s)
        return False

    def start(self) -> IndexWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="index-watcher", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check()

    def stop(self) -> None:
        self._stop.set()
