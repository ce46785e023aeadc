"""scale: indexes of 1k / 10k / 100k synthetic passages: build, load, ask p50/p95, each
stage, process RSS. Each size is built, then served, in a fresh worker process
(``bench.py --scale-worker N --phase build|serve``), so RSS is that size's alone.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness import (BENCH, CORPUS, MODEL, PY, Bench, Row, dist_ms, eval_questions, fresh_ask, now, row, rss_mb,
                     settings_for, stage_breakdown, worker_json)


def synth_chunks(base: Any, n: int, seed: int = 0) -> tuple[list[Any], dict[str, list[str]]]:
    """``n`` passages made by recombining 2-5 real sentences of the bundled corpus.

    Returns the chunks and, per chunk id, its sentences (real sentences, so their
    real vectors can be reused exactly).
    """
    from assistant.schema import Chunk
    from assistant.text import sentences as split_sentences

    rng = random.Random(seed)
    chunks_in = base["chunks"]
    sentences = base["sentences"]
    out: list[Any] = []
    parts: dict[str, list[str]] = {}
    for i in range(n):
        like = rng.choice(chunks_in)
        while True:  # keep combinations the sentence splitter reads back as the same sentences
            picked = [rng.choice(sentences) for _ in range(rng.randint(2, 5))]
            text = " ".join(picked)
            if [t for _, _, t in split_sentences(text)] == picked:
                break
        doc = f"synthetic-{i // 10:05d}.txt"
        cid = f"syn{i:06d}"
        out.append(Chunk(cid, doc, f"{like.title} ({i // 10})", like.section, text, 0, len(text)))
        parts[cid] = picked
    return out, parts


def build(n: int, base_index: Path, folder: Path, real_vectors: bool) -> dict[str, Any]:
    """Worker, phase build: an index of ``n`` synthetic passages in ``folder``, through the Store API."""
    from langchain_core.embeddings import Embeddings

    from assistant.corpus.chunking import embedding_text
    from assistant.index.derived import Derived
    from assistant.index.embedding import load_embedder
    from assistant.index.ingest import index_config, location_of
    from assistant.index.store import SentenceRecord
    from assistant.index.locations import LocalLocation, open_served

    embedder = load_embedder(MODEL)
    base_settings = settings_for(CORPUS, base_index)
    base_store = open_served(location_of(base_settings), embedder)
    records, vectors = base_store.sentence_table()
    sentence_vec: dict[str, np.ndarray] = {}
    for r, v in zip(records, vectors):
        sentence_vec.setdefault(r.text, v)
    chunks, parts = synth_chunks({"chunks": base_store.chunks(), "sentences": sorted(sentence_vec)}, n)

    started = now()
    texts = [embedding_text(c) for c in chunks]
    if real_vectors:
        passage_vecs = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    else:
        # Approximation: the mean of the passage's real sentence vectors, plus small
        # Gaussian noise, renormalised. Cheap, and close to what the model gives.
        passage_vecs = np.stack([np.mean([sentence_vec[s] for s in parts[c.chunk_id]], axis=0) for c in chunks])
        passage_vecs += np.random.default_rng(0).normal(0.0, 0.01, passage_vecs.shape).astype(np.float32)
        passage_vecs /= np.linalg.norm(passage_vecs, axis=1, keepdims=True)
    lookup: dict[str, list[float]] = {t: v.tolist() for t, v in sentence_vec.items()}
    lookup.update({t: v.tolist() for t, v in zip(texts, passage_vecs)})
    vectors_s = now() - started

    class Lookup(Embeddings):
        """Hands the Store the vectors made above, as if a model had computed them."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [lookup[t] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    location = LocalLocation(folder)
    started = now()
    store = location.new_generation(None, Lookup())
    for i in range(0, len(chunks), 1000):  # <= 5,000 sentences: under Chroma's largest batch
        batch = chunks[i : i + 1000]
        store.add_passages(batch, [embedding_text(c) for c in batch])
        store.add_sentences([SentenceRecord(f"{c.chunk_id}:{j:03d}", c.chunk_id, s)
                             for c in batch for j, s in enumerate(parts[c.chunk_id])])
    build_s = now() - started
    started = now()
    Derived.build(store).save(location.derived_dir(store.generation))  # as ingest does before publishing
    derived_s = now() - started
    docs: dict[str, dict[str, Any]] = {}
    for c in chunks:
        docs.setdefault(c.doc_id, {"title": c.title, "hash": c.doc_id, "metadata": {}, "chunk_ids": []})["chunk_ids"].append(c.chunk_id)
    # What ingest records, from the function ingest uses: Assistant.load checks it (the model version too).
    location.publish(store.generation, {"config": index_config(base_settings),
                                        "corpus_version": f"synthetic-{n}", "documents": docs, "passages": n})
    return {
        "passages": n,
        "sentences": sum(len(p) for p in parts.values()),
        "passage_vectors": "real (model)" if real_vectors else "approx: mean of real sentence vectors + noise",
        "vectors_s": round(vectors_s, 2),
        "build_index_s": round(build_s, 2),
        "build_derived_files_s": round(derived_s, 2),
    }


def serve(folder: Path, queries: int) -> dict[str, Any]:
    """Worker, phase serve, in a fresh process: load the model, then the Assistant on the index, then ask."""
    from assistant.index.embedding import load_embedder
    from assistant.pipeline import Assistant

    embedder = load_embedder(MODEL)
    embedder.embed_query("warm up")
    rss_model = rss_mb()
    started = now()
    assistant = Assistant.load(settings_for(CORPUS, folder), embedder)
    load_s = now() - started
    rss_loaded = rss_mb()
    questions = [q["question"] for q in eval_questions()][:queries]
    for q in questions[:3]:
        assistant.ask(q)
    ask_s = [fresh_ask(assistant, q) for q in questions]
    stages = stage_breakdown(assistant, questions[:15])
    return {
        "load_assistant_s": round(load_s, 2),
        "ask": dist_ms(ask_s),
        "stages_p50_ms": stages,
        "rss_model_only_mb": rss_model.get("rss_mb"),
        "rss_loaded_mb": rss_loaded.get("rss_mb"),
        "rss_after_queries": rss_mb(),
    }


def run(b: Bench, sizes: Sequence[int], real_up_to: int = 1000) -> dict[str, Any]:
    """One record per size (``"1000": {...}``); a size that fails records ``{"error"}`` and the next still runs."""
    out: dict[str, Any] = {
        "method": "passages recombine 2-5 real corpus sentences (their real vectors are reused); "
                  f"passage vectors come from the model up to {real_up_to} passages, above that they are "
                  "the mean of the passage's real sentence vectors plus N(0, 0.01) noise, renormalised, "
                  "inserted through Store.add_passages/add_sentences. One fresh process per size.",
    }
    for n in sizes:
        folder = b.work / f"scale-{n}"
        worker = [PY, str(BENCH), "--scale-worker", str(n), "--dir", str(folder)]
        build_cmd = worker + ["--phase", "build", "--base-index", str(b.settings.index_dir)]
        started = now()
        try:
            record = worker_json(build_cmd + (["--real-vectors"] if n <= real_up_to else []))
            record.update(worker_json(worker + ["--phase", "serve"]))
            record["worker_wall_s"] = round(now() - started, 1)
        except Exception as exc:  # noqa: BLE001 - the next size may still work
            record = {"error": str(exc)[-1500:]}
        out[str(n)] = record
        shutil.rmtree(folder, ignore_errors=True)
    return out


def rows(scale: dict[str, Any]) -> list[Row]:
    out = []
    for n, s in scale.items():
        if not isinstance(s, dict):
            continue
        if "error" in s:
            out.append(row(f"scale {n}: FAILED", s["error"].splitlines()[-1][:80]))
            continue
        out.append(row(f"scale {n}: ask p50 / p95, ms", f"{s['ask']['p50_ms']} / {s['ask']['p95_ms']}",
                       f"RSS {s['rss_loaded_mb']} MB loaded (model only {s['rss_model_only_mb']}), peak "
                       f"{s['rss_after_queries'].get('peak_rss_mb')}; build {s['build_index_s']} s, "
                       f"load {s['load_assistant_s']} s"))
        out.append(row("  stages p50, ms", ", ".join(f"{k} {v}" for k, v in s["stages_p50_ms"].items())))
    return out
