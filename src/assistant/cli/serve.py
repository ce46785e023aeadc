"""``assistant serve``: the chat in a browser (``python app.py`` is the same command).

    assistant serve [--host H] [--port N] [--index DIR] [--corpus DIR] [--model M]
                    [--mode M] [--answerer A] [--feedback-db PATH]

The layout lives in assistant.ui.layout; this reads the command line, builds Settings
(in assistant.cli) and serves the page until Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from assistant.config import MODES, Settings

FEEDBACK_ENV = "ASSISTANT_FEEDBACK_DB"


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="serve the chat in a browser (default http://127.0.0.1:7860)")
    common(p)
    p.add_argument("--corpus", dest="corpus_dir",
                   help="corpus folder, for 'Read the whole article' (env ASSISTANT_CORPUS; default: "
                        "the folder the index was built from)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, help="port to listen on (default 7860)")
    p.add_argument("--mode", choices=MODES, help="retrieval mode (env ASSISTANT_MODE; default hybrid)")
    p.add_argument("--answerer", help="extractive (default), ollama:MODEL, openai:MODEL or hf:FOLDER "
                                      "(env ASSISTANT_ANSWERER)")
    p.add_argument("--feedback-db", help=f"store patients' feedback, with the rated question and answer, in this "
                                         f"SQLite file (env {FEEDBACK_ENV}); off when not given")
    return p


def reload_on_hangup(demo: object) -> None:
    """``kill -HUP <pid>``: the operator's way to reload the index now (the chat has no reload button;
    it also picks up a newly published index by itself within seconds)."""
    service = getattr(demo, "assistant_service", None)
    if service is None or not hasattr(signal, "SIGHUP"):
        return

    def reload() -> None:
        _, line = service.reload()
        print(line, file=sys.stderr)

    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, name="sighup-reload").start())
    print(f"Reload the index with: kill -HUP {os.getpid()}", file=sys.stderr)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ui import feedback
    from assistant import ui
    from assistant.pipeline import Assistant

    store = feedback.open_store(args.feedback_db or os.environ.get(FEEDBACK_ENV))
    print(f"Loading the index at {settings.index_dir} ...", file=sys.stderr)
    demo = ui.build_app(Assistant.load(settings, env=os.environ), feedback=store)
    if store is not None:
        print(f"Feedback is on: stored in {store.path}", file=sys.stderr)
    reload_on_hangup(demo)
    print(f"Serving on http://{settings.host}:{settings.port} (press Ctrl+C to stop)", file=sys.stderr)
    ui.launch(demo, settings.host, settings.port, quiet=True)
    return 0
