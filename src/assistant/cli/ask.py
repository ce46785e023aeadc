"""``assistant ask``: one question (text or ``--json``), or JSON lines on stdin (``--jsonl``).

Output is safe for any terminal and any stdout encoding: a control character is shown,
never obeyed, and a line the encoding cannot hold is written with escapes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from assistant.config import MODES, Settings
from assistant.errors import AssistantError, EmptyQuestionError
from assistant.schema import Answer, Turn, request_from_json

__all__ = ["add_parser", "answer_jsonl", "dumps", "parse_request", "render_text", "run", "terminal_safe", "write_line"]

log = logging.getLogger(__name__)


def add_parser(subparsers: Any, common: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Register ``ask`` on the ``assistant`` subcommand parser."""
    ask = subparsers.add_parser("ask", help="ask a question")
    common(ask)
    ask.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    ask.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    ask.add_argument("-k", dest="k", type=int, help="passages to retrieve")
    ask.add_argument("--answerer", help="extractive (default), ollama:MODEL, openai:MODEL or hf:FOLDER (env ASSISTANT_ANSWERER)")
    out = ask.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--jsonl", action="store_true", help="read JSON lines from stdin, write one object per line")
    return ask


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import Assistant

    if args.jsonl:
        if args.question:
            raise AssistantError("Give either a question or --jsonl (questions on stdin), not both.")
        assistant = Assistant.load(settings, env=os.environ)
        # Bytes, decoded line by line: one line that is not UTF-8 must not lose the others.
        for line in answer_jsonl(assistant.ask, getattr(sys.stdin, "buffer", sys.stdin)):
            write_line(line)
        return 0
    if not args.question or not args.question.strip():
        raise EmptyQuestionError('The question is empty. Example: assistant ask "Is redness normal two days after treatment?"')
    answer = Assistant.load(settings, env=os.environ).ask(args.question)
    write_line(dumps(answer.to_dict()) if args.json else terminal_safe(render_text(answer)))
    return 0


def dumps(payload: dict[str, Any]) -> str:
    """JSON for one output line: readable UTF-8, or all-ASCII escapes when the text holds
    something UTF-8 cannot encode (a lone surrogate such as a JSON "\\ud800")."""
    text = json.dumps(payload, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(payload, ensure_ascii=True)
    return text


def write_line(text: str, stream: TextIO | None = None) -> None:
    """Print one line that a strict encoding (PYTHONIOENCODING=utf-8:strict, latin-1) never refuses.

    A JSON line that the encoding cannot hold is written with ASCII escapes, so it stays valid JSON.
    """
    stream = stream or sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        if text.startswith("{"):
            text = json.dumps(json.loads(text), ensure_ascii=True)
        else:
            text = text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    print(text, file=stream, flush=True)


def parse_request(line: str | bytes) -> tuple[str, list[Turn]]:
    """Validate one JSONL request: ``{"question": str, "history": [{"role", "content"}]}``."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at position {exc.start + 1}); "
                             "save the file as UTF-8") from None
    try:
        obj = json.loads(line.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError:
        raise ValueError("JSON nested too deeply; a request is one object with a question and a history") from None
    return request_from_json(obj)


def answer_jsonl(ask: Callable[[str, list[Turn]], Answer], lines: Iterable[str] | Iterable[bytes] | TextIO) -> Iterable[str]:
    """One output line per non-blank input line, in order; a bad line gets ``{"error": ...}``.

    Lines may be bytes (stdin's buffer), each decoded as UTF-8 on its own.
    Nothing one line holds stops the lines after it.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question, history = parse_request(line)
            payload: dict[str, Any] = ask(question, history).to_dict()
        except (ValueError, AssistantError) as exc:
            payload = {"error": f"line {number}: {exc}", "line": number}
        except RecursionError:
            payload = {"error": f"line {number}: the request is nested too deeply to answer", "line": number}
        except Exception as exc:  # a bug must not lose the lines after this one
            log.exception("answering line %d failed", number)
            payload = {"error": f"line {number}: could not answer ({type(exc).__name__}); "
                                "the other lines are answered; please report this line", "line": number}
        yield dumps(payload)


def terminal_safe(text: str) -> str:
    """Text for a terminal: a control character from a document's title (an ANSI escape) is
    shown as an escape, never obeyed; line breaks stay."""
    from assistant.corpus.cleaning import printable_name

    return "\n".join(printable_name(line) for line in text.split("\n"))


def render_text(answer: Answer) -> str:
    """The answer for a person reading a terminal."""
    parts: list[str] = []
    if answer.notice:
        parts += [f"!! {answer.notice}", ""]
    parts.append(answer.answer)
    if answer.scope is not None and answer.scope.decision == "partial" and answer.scope.note:
        parts += ["", answer.scope.note]  # the part of the question the sources do not cover
    if answer.citations:
        parts += ["", "Sources:"]
        for c in answer.citations:
            parts.append(f"[{c.n}] {c.title} — {c.section} ({c.doc})")
            parts.append(f"    {c.text}")
    return "\n".join(parts)
