"""The ``assistant`` command: one module per command; ``main`` maps errors to messages and exit codes."""

from __future__ import annotations

from assistant.cli.main import COMMANDS, answer_jsonl, build_parser, dumps, main, settings_from, terminal_safe, write_line

__all__ = ["COMMANDS", "answer_jsonl", "build_parser", "dumps", "main", "settings_from", "terminal_safe", "write_line"]
