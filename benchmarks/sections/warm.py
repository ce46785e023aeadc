"""warm: ``Assistant.ask`` p50/p95 over the eval test split beside ``embed_query`` alone,
each stage's median, and the scope step (the refusal check and the scope decision)."""

from __future__ import annotations

from typing import Any

from harness import Bench, Row, clear_query_cache, dist_ms, fresh_ask, lap, now, row, stage_breakdown


def scope_cost(assistant: Any, question: str, query: str) -> float:
    """Seconds the scope step takes for one question, its retrieval already done; the words
    it embeds are embedded afresh (the product embeds them in triage's batch)."""
    hits = assistant.collapse(assistant.retriever.retrieve(query, assistant.settings.k * 2))[: assistant.settings.k]
    evidence = assistant.evidence(query, hits)
    clear_query_cache(assistant)
    started = now()
    if assistant.scope.refusal(question) is None:
        assistant.decide(question, evidence, assistant.index)
    return now() - started


def run(b: Bench, rounds: int = 2) -> dict[str, Any]:
    """Each question as new (query-embedding cache cleared), beside embed_query of the same text."""
    assistant = b.assistant()
    questions = [q["question"] for q in b.questions]
    for q in questions[:3]:
        assistant.ask(q)
    ask_s: list[float] = []
    embed_s: list[float] = []
    scope_s: list[float] = []
    for _ in range(rounds):
        for q in questions:
            query = assistant.retrieval_query(q)
            embed_s.append(lap(b.embedder.embed_query, query))
            ask_s.append(fresh_ask(assistant, q))
            scope_s.append(scope_cost(assistant, q, query))
    stages = stage_breakdown(assistant, questions)
    ask, embed, scope = dist_ms(ask_s), dist_ms(embed_s), dist_ms(scope_s)
    return {
        "questions": len(questions),
        "rounds": rounds,
        "ask": ask,
        "embed_query": embed,
        "scope": scope,  # the refusal check and the scope decision, its words embedded afresh
        "scope_ratio_p50": round(scope["p50_ms"] / embed["p50_ms"], 2),
        "scope_ratio_p95": round(scope["p95_ms"] / embed["p95_ms"], 2),
        "scope_ratio_target": 2.0,
        "ratio_p50": round(ask["p50_ms"] / embed["p50_ms"], 2),
        "ratio_p95": round(ask["p95_ms"] / embed["p95_ms"], 2),
        "ratio_target": 2.0,
        "ratio_target_with_semantic_triage": 2.5,  # the semantic triage layer is on, as shipped
        "stages_p50_ms": stages,
    }


def rows(w: dict[str, Any]) -> list[Row]:
    if not w.get("ask"):
        return []
    out = [
        row("warm ask p50 / p95, ms", f"{w['ask']['p50_ms']} / {w['ask']['p95_ms']}",
            f"{w['questions']} test questions x {w['rounds']}"),
        row("embed_query p50 / p95, ms", f"{w['embed_query']['p50_ms']} / {w['embed_query']['p95_ms']}"),
        row("ratio ask / embed (p50)", w["ratio_p50"], "target <= 2x; <= 2.5x with semantic triage (on)"),
    ]
    if "scope" in w:
        out.append(row("scope p50 / p95, ms", f'{w["scope"]["p50_ms"]} / {w["scope"]["p95_ms"]}',
                       f'ratio to embed_query {w["scope_ratio_p50"]} / {w["scope_ratio_p95"]}; target <= 2x'))
    out.append(row("  stages p50, ms", ", ".join(f"{k} {v}" for k, v in w["stages_p50_ms"].items())))
    return out
