"""The ``assistant`` command: one module per command (each with ``add_parser`` and ``run``);
``entry.main`` is the only place that maps errors to messages and exit codes."""

from __future__ import annotations

from assistant.cli.ask import answer_jsonl, dumps, parse_request, terminal_safe, write_line
from assistant.cli.entry import COMMANDS, build_parser, main, settings_from

__all__ = ["COMMANDS", "answer_jsonl", "build_parser", "dumps", "main", "parse_request", "settings_from",
           "terminal_safe", "write_line"]
