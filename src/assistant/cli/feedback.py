"""``assistant feedback export``: patients' ratings from the chat, as eval cases to review."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from assistant.config import Settings


def add_parser(subparsers: Any, common: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Register ``feedback export`` on the ``assistant`` subcommand parser (it reads no index)."""
    fb = subparsers.add_parser("feedback", help="work with feedback stored by the chat (when enabled)")
    fb_sub = fb.add_subparsers(dest="feedback_command", required=True)
    export = fb_sub.add_parser("export", help="turn feedback into eval cases (JSONL, the eval suite's format)")
    export.add_argument("--db", required=True, help="the feedback SQLite file (as given to assistant serve --feedback-db)")
    export.add_argument("--out", required=True, help="JSONL file to write, e.g. evals/feedback.jsonl")
    return fb


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from assistant.ui.feedback import export_cases

    count = export_cases(Path(args.db), Path(args.out))
    print(f"Wrote {count} eval case(s) to {args.out}. Review them, add gold sentences where needed, then run `assistant eval`.")
    return 0
