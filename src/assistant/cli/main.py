"""The ``assistant`` command. The only place that maps errors to messages and exit codes.

    assistant setup                       train and export the default model (once)
    assistant ingest --corpus DIR         build or update the index
    assistant ask "question" [--json]
    assistant ask --jsonl < questions.jsonl
    assistant serve [--host H] [--port N] the chat in a browser
    assistant eval ...                    the offline eval suites (assistant.cli.eval)

Everything built (the index, the model, caches) lives in the home folder
(assistant.home), so each command works the same from any folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from assistant.cli import eval as cli_eval

from assistant.cli import serve as cli_serve

from assistant.cli import setup as cli_setup
from assistant.config import MODES, Settings
from assistant.errors import AssistantError, EmptyQuestionError
from assistant.schema import Answer, Turn, request_from_json

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="folder for the index, the trained model and caches "
                                       "(env ASSISTANT_HOME; default the per-user data folder)")
    parser.add_argument("--index", dest="index_dir", help="index folder (env ASSISTANT_INDEX; default HOME/index)")
    parser.add_argument("--model", help="embedding model name or local folder (env ASSISTANT_MODEL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="A cited, safety-first assistant that answers from its source articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="build or update the index from a corpus folder")
    _common(ingest)
    ingest.add_argument("--corpus", dest="corpus_dir",
                        help="folder of articles (env ASSISTANT_CORPUS; default: the folder the index was built from)")
    ingest.add_argument("--chunk-size", dest="chunk_size", type=int, help="maximum passage length in characters")
    ingest.add_argument("--dry-run", action="store_true", help="print what would change, touch nothing")
    ingest.add_argument("--rebuild", action="store_true",
                        help="embed every document again, reusing nothing from the served index (a damaged index)")

    corpus = sub.add_parser("corpus", help="check the corpus folder")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True)
    lint = corpus_sub.add_parser("lint", help="report boilerplate, duplicates, thin sections, stale reviews")
    _common(lint)
    lint.add_argument("--corpus", dest="corpus_dir",
                      help="folder of articles (env ASSISTANT_CORPUS; default: the folder the index was built from)")

    fb = sub.add_parser("feedback", help="work with feedback stored by the chat (when enabled)")
    fb_sub = fb.add_subparsers(dest="feedback_command", required=True)
    export = fb_sub.add_parser("export", help="turn feedback into eval cases (JSONL, the eval suite's format)")
    export.add_argument("--db", required=True, help="the feedback SQLite file (as given to assistant serve --feedback-db)")
    export.add_argument("--out", required=True, help="JSONL file to write, e.g. evals/feedback.jsonl")

    ask = sub.add_parser("ask", help="ask a question")
    _common(ask)
    ask.add_argument("question", nargs="?", help="the question (omit with --jsonl)")
    ask.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    ask.add_argument("-k", dest="k", type=int, help="passages to retrieve")
    ask.add_argument("--answerer", help="extractive (default), ollama:MODEL, openai:MODEL or hf:FOLDER (env ASSISTANT_ANSWERER)")
    out = ask.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--jsonl", action="store_true", help="read JSON lines from stdin, write one object per line")
    cli_eval.add_parser(sub, _common)
    cli_setup.add_parser(sub, _common)
    cli_serve.add_parser(sub, _common)
    return parser


def settings_from(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    return Settings.resolve(env=os.environ if env is None else env, flags=vars(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        if needs_model(args, settings):
            cli_setup.prepare(settings)  # a first run trains the model here, in the open
        return COMMANDS[args.command](args, settings)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.index.embedding import LazyEmbedder
    from assistant.index.ingest import ingest, make_plan
    from assistant.progress import Bar

    plan = make_plan(settings, fresh=args.rebuild)
    if args.dry_run:
        print(plan.describe())
        return 0
    bar: Bar | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if total:
                print(f"Loading embedding model {settings.model} ...", file=sys.stderr)
            bar = Bar("Embedding", total, "passage")
        bar.update(done, total)

    report = ingest(settings, LazyEmbedder(settings.model, home=settings.home), progress, plan=plan)
    if bar is not None:
        bar.close()
    print(report.summary())
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
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


def cmd_corpus(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from assistant.index.ingest import corpus_of
    from assistant.corpus.lint import lint

    settings = replace(settings, corpus_dir=corpus_of(settings))
    findings = lint(settings)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {settings.corpus_dir}.")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from assistant.ui.feedback import export_cases

    count = export_cases(Path(args.db), Path(args.out))
    print(f"Wrote {count} eval case(s) to {args.out}. Review them, add gold sentences where needed, then run `assistant eval`.")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "feedback": cmd_feedback,
    "eval": cli_eval.run,
    "ingest": cmd_ingest,
    "corpus": cmd_corpus,
    "ask": cmd_ask,
    "setup": cli_setup.run,
    "serve": cli_serve.run,
}


def needs_model(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether the command embeds now, so it makes the model ready first (assistant.cli.setup).
    ``ask`` and ``serve`` with no index say how to build one instead: no training before that."""
    if args.command in ("ask", "serve"):
        from assistant.index.ingest import location_of

        try:
            return location_of(settings).current() is not None
        except AssistantError:
            return True  # a store that cannot be read: the command keeps triaging and says so
    return args.command in ("ingest", "eval") and not getattr(args, "dry_run", False)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
