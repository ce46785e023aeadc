"""Run the chat UI: ``python app.py [--index DIR] [--host H] [--port N] [--model M] [--mode M] [--answerer A] [--feedback-db PATH]``.

Layout lives in ``assistant.ui``; this file only reads the command line and
the environment (the edges), builds Settings, and serves the page.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # see assistant/__init__.py

from assistant.config import MODES, Settings  # noqa: E402
from assistant.errors import AssistantError  # noqa: E402

FEEDBACK_ENV = "ASSISTANT_FEEDBACK_DB"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the microneedling aftercare chat in a browser.")
    parser.add_argument("--index", dest="index_dir", help="index folder (env ASSISTANT_INDEX; default .assistant/index)")
    parser.add_argument("--corpus", dest="corpus_dir", help="corpus folder, for 'Read the whole article' (env ASSISTANT_CORPUS)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, help="port to listen on (default 7860)")
    parser.add_argument("--model", help="embedding model name or local folder (env ASSISTANT_MODEL)")
    parser.add_argument("--mode", choices=MODES, help="retrieval mode (env ASSISTANT_MODE; default hybrid)")
    parser.add_argument(
        "--answerer",
        help="extractive (default), ollama:MODEL, openai:MODEL or hf:FOLDER (env ASSISTANT_ANSWERER)",
    )
    parser.add_argument(
        "--feedback-db",
        help=f"store patients' feedback, with the rated question and answer, in this SQLite file "
        f"(env {FEEDBACK_ENV}); off when not given",
    )
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from assistant import feedback, ui
        from assistant.pipeline import Assistant

        settings = Settings.resolve(env=os.environ, flags=vars(args))
        store = feedback.open_store(args.feedback_db or os.environ.get(FEEDBACK_ENV))
        print(f"Loading the index at {settings.index_dir} ...", file=sys.stderr)
        demo = ui.build_app(Assistant.load(settings, env=os.environ), feedback=store)
        if store is not None:
            print(f"Feedback is on: stored in {store.path}", file=sys.stderr)
        reload_on_hangup(demo)
        print(f"Serving on http://{settings.host}:{settings.port} (press Ctrl+C to stop)", file=sys.stderr)
        ui.launch(demo, settings.host, settings.port, quiet=True)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
