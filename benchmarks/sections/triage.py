"""triage: warm triage over every message of the triage suites (evals/triage*.jsonl)."""

from __future__ import annotations

from typing import Any

from harness import ROOT, Bench, Row, clear_query_cache, dist_ms, lap, read_jsonl, row


def run(b: Bench, rounds: int = 3) -> dict[str, Any]:
    """The rules and their context (with spelling and languages, no model), then every layer
    as the product runs it (the semantic layer on), beside embed_query of the same messages.
    Targets: rules and context p95 <= 5 ms; the semantic layer's share is in the warm ask ratio."""
    from assistant.safety import Triager

    messages = [case["message"] for path in sorted((ROOT / "evals").glob("triage*.jsonl")) for case in read_jsonl(path)]
    rules = Triager.from_file()
    assistant = b.assistant()
    for m in messages:  # warm-up: regex caches, the language model, the spelling index
        rules.assess(m)
        assistant.triager.assess(m)
    timed: dict[str, list[float]] = {"rules_and_context": [], "all_layers": [], "embed_query": []}
    for _ in range(rounds):
        for m in messages:
            timed["rules_and_context"].append(lap(rules.assess, m))
            clear_query_cache(assistant)  # the semantic layer pays for its sentences' embedding
            timed["all_layers"].append(lap(assistant.triager.assess, m))
            timed["embed_query"].append(lap(b.embedder.embed_query, m[:2000]))
    out: dict[str, Any] = {"messages": len(messages), "rounds": rounds}
    out.update({name: dist_ms(values) for name, values in timed.items()})
    out["rules_p95_target_ms"] = 5.0
    return out


def rows(t: dict[str, Any]) -> list[Row]:
    if not t.get("messages"):
        return []
    rules, every, embed = t["rules_and_context"], t["all_layers"], t["embed_query"]
    return [
        row("triage: rules and context p50 / p95, ms", f"{rules['p50_ms']} / {rules['p95_ms']}",
            f"{t['messages']} messages x {t['rounds']}; target p95 <= 5 ms"),
        row("triage: all layers p50 / p95, ms", f"{every['p50_ms']} / {every['p95_ms']}",
            f"embed_query of the same messages {embed['p50_ms']} / {embed['p95_ms']}"),
    ]
