"""cold: ``assistant ask`` from process start to answer (median of 3), with its imports."""

from __future__ import annotations

from typing import Any

from harness import Bench, Row, cli, cli_import_profile, heavy_summary, median_run, row

QUESTION = "Is it normal to have pimples after microneedling?"


def run(b: Bench) -> dict[str, Any]:
    index = str(b.settings.index_dir)
    return {"ask_cli": median_run(cli("ask", "--index", index, QUESTION)),
            "ask_importtime": cli_import_profile("ask", "--index", index, QUESTION)}


def rows(c: dict[str, Any]) -> list[Row]:
    if not c.get("ask_cli"):
        return []
    return [
        row("cold start: assistant ask, s", c["ask_cli"]["median_s"], f"runs {c['ask_cli']['runs_s']}"),
        row("  imports (importtime), s", c["ask_importtime"]["total_import_s"], heavy_summary(c["ask_importtime"])),
    ]
