"""onnx: torch vs. ``@onnx`` vs. ``@onnx-int8`` on the same texts, same machine, same run:
export cost, query-embedding latency (also beside one other CPU-bound process), encode and
ingest rate, cold and warm ask, cosine to torch, Recall@k and MRR on the eval test split;
torch at its default thread count vs. one thread."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from harness import (BACKENDS, MODEL, PY, SPECS, Bench, cli, cli_import_profile, corpus_chunks, dist_ms, fmt,
                     fresh_ask, heavy_summary, lap, median_run, now, settings_for)
from sections.cold import QUESTION


def interleaved(names: Iterable[str], rounds: int, measure: Callable[[str], list[float]]) -> dict[str, list[float]]:
    """``measure(name)`` for each name in turn, ``rounds`` times over, the values pooled per name.

    Why in turn: load on the machine then hits every backend alike, and one backend's
    threads are idle while another's are timed.
    """
    names = list(names)
    out: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            out[name] += measure(name)
    return out


def under_contention(embedders: dict[str, Any], queries: Sequence[str]) -> dict[str, dict[str, float]]:
    """Query-embedding latency while one other CPU-bound process runs (a second app worker,
    an ingest, a test run): what a small shared server sees."""
    import torch

    default = torch.get_num_threads()

    def measure(name: str) -> list[float]:
        torch.set_num_threads(1 if name == "torch_1_thread" else default)
        e = embedders.get(name, embedders["torch"])
        return [lap(e.embed_query, q) for q in queries]

    spinner = subprocess.Popen([PY, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        lat = interleaved([*embedders, "torch_1_thread"], 2, measure)
    finally:
        torch.set_num_threads(default)
        spinner.kill()
        spinner.wait()
    return {k: dist_ms(v) for k, v in lat.items()}


def torch_threads(embedder: Any, queries: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
    """torch at its default thread count vs. one thread (OpenMP threads on a busy small machine wait on each other)."""
    import torch

    default = torch.get_num_threads()
    lat: dict[int, list[float]] = {default: [], 1: []}
    encode: dict[int, list[float]] = {default: [], 1: []}
    try:
        for _ in range(2):
            for threads in lat:
                torch.set_num_threads(threads)
                lat[threads] += [lap(embedder.embed_query, q) for q in queries[:40]]
                encode[threads].append(len(texts) / lap(embedder.embed_documents, list(texts)))
    finally:
        torch.set_num_threads(default)
    return {f"threads_{t}": {"query_embed": dist_ms(lat[t]), "chunks_per_s": round(statistics.median(encode[t]), 1)}
            for t in lat}


def retrieval_quality(assistant: Any, cases: Sequence[dict[str, Any]], mode: str, contains: Callable[..., bool],
                      turn: Any) -> dict[str, float]:
    """Recall@k (a case counts when a top-k passage holds a gold sentence) and MRR over the top 10."""
    firsts: list[int | None] = []
    for case in cases:
        history = [turn(t["role"], t["content"]) for t in case.get("history", [])]
        hits = assistant.retrievers[mode].retrieve(assistant.retrieval_query(case["question"], history), 10)
        firsts.append(next((r for r, h in enumerate(hits, 1) if any(contains(h.chunk.text, g) for g in case["gold"])), None))
    n = len(firsts)
    return {
        "cases": n,
        **{f"recall@{k}": round(sum(1 for r in firsts if r and r <= k) / n, 4) for k in (1, 3, 5, 10)},
        "mrr@10": round(sum(1 / r for r in firsts if r) / n, 4),
    }


def run(b: Bench, cold_runs: int = 3) -> dict[str, Any]:
    """One record per backend (``"torch"``, ``"onnx"``, ``"onnx-int8"``), plus the torch thread
    comparison, bm25 alone, and what a cold ``@onnx`` ask imports."""
    from assistant.corpus.chunking import embedding_text
    from assistant.index.embedding import load_embedder
    from assistant.index.ingest import ingest, sentence_records
    from assistant.schema import Turn
    from assistant.text import contains_sentence

    out: dict[str, Any] = {"specs": SPECS, "export_timing": "into a fresh folder; then loaded from HOME's cache"}
    embedders: dict[str, Any] = {}
    for backend in BACKENDS:
        if backend != "torch":
            started = now()
            load_embedder(SPECS[backend], cache_dir=b.work / "export-timing")  # first use: export (and quantise)
            out.setdefault(backend, {})["first_load_with_export_s"] = round(now() - started, 2)
        started = now()
        embedders[backend] = b.embedder if SPECS[backend] == MODEL else load_embedder(SPECS[backend])
        embedders[backend].embed_query("warm up")
        loaded = b.model_load_s if SPECS[backend] == MODEL else now() - started
        out.setdefault(backend, {})["load_s"] = round(loaded, 3)

    assistant = b.assistant()  # only for the retrieval query text, which is backend-independent
    queries = [assistant.retrieval_query(q["question"]) for q in b.questions]
    for e in embedders.values():
        e.embed_query(queries[0])
    lat = interleaved(embedders, 3, lambda name: [lap(embedders[name].embed_query, q) for q in queries])

    chunks = corpus_chunks(b.settings)
    texts = [embedding_text(c) for c in chunks]
    reference = np.asarray(embedders["torch"].embed_documents(texts))
    busy = under_contention(embedders, queries[:30])
    # What ingest embeds: every passage and every sentence.
    batch = texts + [r.text for c in chunks for r in sentence_records(c)]
    rates = interleaved(embedders, 3, lambda name: [len(batch) / lap(embedders[name].embed_documents, batch)])
    out["torch_threads"] = torch_threads(embedders["torch"], queries, texts)
    assistants: dict[str, Any] = {}
    for name, e in embedders.items():
        spec = SPECS[name]
        settings = settings_for(b.corpus, b.work / f"cmp-{name}", spec)
        started = now()
        report = ingest(settings, e)
        ingest_s = now() - started
        cos = (np.asarray(e.embed_documents(texts)) * reference).sum(axis=1)
        assistants[name] = a = b.assistant(settings, e)
        quality = {mode: retrieval_quality(a, b.questions, mode, contains_sentence, Turn) for mode in ("dense", "hybrid")}
        cold = median_run(cli("ask", "--index", str(settings.index_dir), "--model", spec, QUESTION), cold_runs)
        out.setdefault(name, {}).update({
            "query_embed": dist_ms(lat[name]),
            "query_embed_one_busy_process": busy[name],
            "encode_texts_per_s": round(statistics.median(rates[name]), 1),
            "ingest_s": round(ingest_s, 3),
            "ingest_chunks_per_s": round(report.chunks / ingest_s, 1),
            "cosine_to_torch": {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)},
            "cold_ask_cli": cold,
            "retrieval": quality,
        })
    ask_s = interleaved(assistants, 2, lambda name: [fresh_ask(assistants[name], q["question"]) for q in b.questions])
    for name in assistants:
        out[name]["warm_ask"] = dist_ms(ask_s[name])
        out[name]["ask_over_embed_p50"] = round(out[name]["warm_ask"]["p50_ms"] / out[name]["query_embed"]["p50_ms"], 2)
    out["torch_1_thread_query_embed_one_busy_process"] = busy["torch_1_thread"]
    out["bm25_retrieval"] = retrieval_quality(assistant, b.questions, "bm25", contains_sentence, Turn)
    out["cold_ask_import_onnx"] = cli_import_profile("ask", "--index", str(b.work / "cmp-onnx"), "--model", SPECS["onnx"],
                                                     QUESTION)
    return out


def lines(o: dict[str, Any]) -> list[str]:
    """The comparison block printed below the table: one column per backend ("-" where missing)."""
    if "torch" not in o or "query_embed" not in o.get("torch", {}):
        return []
    out = ["", f"{'ONNX comparison':<36}" + "".join(f"{b:>16}" for b in BACKENDS)]

    def orow(label: str, pick: Callable[[dict[str, Any]], Any]) -> None:
        cells = []
        for backend in BACKENDS:
            try:
                cells.append(fmt(pick(o[backend])))
            except (KeyError, TypeError):
                cells.append("-")
        out.append(f"{label:<36}" + "".join(f"{c:>16}" for c in cells))

    orow("export (first use), s", lambda r: r["first_load_with_export_s"])
    orow("load (export cached), s", lambda r: r["load_s"])
    orow("query embed p50, ms", lambda r: r["query_embed"]["p50_ms"])
    orow("query embed p95, ms", lambda r: r["query_embed"]["p95_ms"])
    orow("query embed p50, 1 busy process, ms", lambda r: r["query_embed_one_busy_process"]["p50_ms"])
    orow("encode passages+sentences, texts/s", lambda r: r["encode_texts_per_s"])
    orow("ingest corpus, chunks/s", lambda r: r["ingest_chunks_per_s"])
    orow("warm ask p50, ms", lambda r: r["warm_ask"]["p50_ms"])
    orow("warm ask p95, ms", lambda r: r["warm_ask"]["p95_ms"])
    orow("ask / embed (p50)", lambda r: r["ask_over_embed_p50"])
    orow("cold ask (CLI), s", lambda r: r["cold_ask_cli"]["median_s"])
    orow("cosine to torch, mean", lambda r: r["cosine_to_torch"]["mean"])
    orow("cosine to torch, min", lambda r: r["cosine_to_torch"]["min"])
    for mode in ("dense", "hybrid"):
        for metric in ("recall@1", "recall@5", "mrr@10"):
            orow(f"{mode} {metric}", lambda r, m=mode, x=metric: r["retrieval"][m][x])
    for key, t in (o.get("torch_threads") or {}).items():
        out.append(f"(torch {key.replace('_', ' ')}: query embed p50 {t['query_embed']['p50_ms']} ms, "
                   f"p95 {t['query_embed']['p95_ms']} ms; encode {t['chunks_per_s']} chunks/s)")
    one = o.get("torch_1_thread_query_embed_one_busy_process") or {}
    if one:
        out.append(f"(torch 1 thread with 1 busy process: query embed p50 {one['p50_ms']} ms, p95 {one['p95_ms']} ms)")
    imp = o.get("cold_ask_import_onnx") or {}
    if imp:
        out.append(f"(cold ask @onnx imports {imp['total_import_s']} s: {heavy_summary(imp)})")
    bm = o.get("bm25_retrieval") or {}
    out.append(f"(bm25 alone, any backend: recall@5 {bm.get('recall@5')}, mrr@10 {bm.get('mrr@10')})")
    return out
