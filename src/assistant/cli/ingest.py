"""``assistant ingest``: build or update the index from a corpus folder, with progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from assistant.config import Settings


def add_parser(subparsers: Any, common: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Register ``ingest`` on the ``assistant`` subcommand parser."""
    ingest = subparsers.add_parser("ingest", help="build or update the index from a corpus folder")
    common(ingest)
    ingest.add_argument("--corpus", dest="corpus_dir",
                        help="folder of articles (env ASSISTANT_CORPUS; default: the folder the index was built from)")
    ingest.add_argument("--chunk-size", dest="chunk_size", type=int, help="maximum passage length in characters")
    ingest.add_argument("--dry-run", action="store_true", help="print what would change, touch nothing")
    ingest.add_argument("--rebuild", action="store_true",
                        help="embed every document again, reusing nothing from the served index (a damaged index)")
    return ingest


def run(args: argparse.Namespace, settings: Settings) -> int:
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
