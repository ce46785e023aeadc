"""docs1000: ingest of 1,000 small synthetic articles with real embeddings, then an
unchanged re-ingest through the CLI."""

from __future__ import annotations

import random
from typing import Any

from harness import Bench, Row, cli, median_run, row, settings_for, timed


def run(b: Bench, n_docs: int = 1000) -> dict[str, Any]:
    """Ingest ``n_docs`` small synthetic articles (a title and three real corpus sentences) with the real model."""
    from assistant.corpus.cleaning import load_corpus
    from assistant.index.ingest import ingest, make_plan, sentence_records
    from assistant.text import sentences as split_sentences

    rng = random.Random(3)
    pool = sorted({s for d in load_corpus(b.corpus)[0] for _, _, s in split_sentences(d.text)
                   if len(s) > 40 and not s.endswith(":")})
    corpus = b.work / "corpus1000"
    corpus.mkdir()
    for i in range(n_docs):
        body = [f"Aftercare note {i:04d}", "", " ".join(rng.sample(pool, 3)), ""]
        (corpus / f"note-{i:04d}.txt").write_text("\n".join(body), encoding="utf-8")
    settings = settings_for(corpus, b.work / "index-1000docs")
    plan, plan_s = timed(make_plan, settings)
    report, embed_s = timed(ingest, settings, b.embedder, plan=plan)
    ingest_s = plan_s + embed_s
    reingest = median_run(cli("ingest", "--index", str(settings.index_dir), "--corpus", str(corpus)), runs=1)
    return {
        "documents": report.documents,
        "skipped": len(report.skipped),
        "chunks": report.chunks,
        "sentences": sum(len(sentence_records(c)) for c in plan.chunks),
        "ingest_s": round(ingest_s, 2),
        "of_which_plan_s": round(plan_s, 2),
        "chunks_per_s": round(report.chunks / ingest_s, 1),
        "reingest_unchanged_cli": reingest,
    }


def rows(d: dict[str, Any]) -> list[Row]:
    if not d.get("documents"):
        return []
    return [row(f"ingest {d['documents']} docs ({d['chunks']} chunks), s", d["ingest_s"],
                f"{d['chunks_per_s']} chunks/s; of which plan {d['of_which_plan_s']} s; "
                f"re-ingest unchanged {d['reingest_unchanged_cli']['median_s']} s")]
