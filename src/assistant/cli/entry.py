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
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from assistant.cli import ask, corpus, feedback, ingest, serve, setup
from assistant.cli import eval as evaluate
from assistant.config import Settings
from assistant.errors import AssistantError

__all__ = ["COMMANDS", "build_parser", "main", "needs_model", "settings_from"]

# One module per command, each with add_parser(subparsers, common) and run(args, settings).
COMMAND_MODULES: dict[str, ModuleType] = {
    "setup": setup, "ingest": ingest, "ask": ask, "serve": serve, "eval": evaluate, "corpus": corpus,
    "feedback": feedback,
}
COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    name: module.run for name, module in COMMAND_MODULES.items()
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="folder for the index, the trained model and caches "
                                       "(env ASSISTANT_HOME; default the per-user data folder)")
    parser.add_argument("--index", dest="index_dir", help="index folder (env ASSISTANT_INDEX; default HOME/index)")
    parser.add_argument("--model", help="embedding model name or local folder (env ASSISTANT_MODEL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="A cited, safety-first assistant that answers from its source articles.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ingest", "corpus", "feedback", "ask", "eval", "setup", "serve"):  # the order --help lists them
        COMMAND_MODULES[name].add_parser(sub, _common)
    return parser


def settings_from(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    return Settings.resolve(env=os.environ if env is None else env, flags=vars(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        if needs_model(args, settings):
            setup.prepare(settings)  # a first run trains the model here, in the open
        return COMMANDS[args.command](args, settings)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


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
