"""``assistant corpus lint``: what a content editor should look at before ingesting."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from assistant.config import Settings


def add_parser(subparsers: Any, common: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Register ``corpus lint`` on the ``assistant`` subcommand parser."""
    corpus = subparsers.add_parser("corpus", help="check the corpus folder")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True)
    lint = corpus_sub.add_parser("lint", help="report boilerplate, duplicates, thin sections, stale reviews")
    common(lint)
    lint.add_argument("--corpus", dest="corpus_dir",
                      help="folder of articles (env ASSISTANT_CORPUS; default: the folder the index was built from)")
    return corpus


def run(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from assistant.index.ingest import corpus_of
    from assistant.corpus.lint import lint

    settings = replace(settings, corpus_dir=corpus_of(settings))
    findings = lint(settings)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {settings.corpus_dir}.")
    return 0
