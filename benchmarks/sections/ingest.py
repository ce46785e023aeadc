"""ingest: full ingest of the bundled corpus against raw encoding of the same texts, and an
unchanged re-ingest through the CLI (target <= 1 s) with its import-time breakdown."""

from __future__ import annotations

from typing import Any

from harness import (MODEL, PY, Bench, Row, cli, cli_import_profile, corpus_chunks, heavy_summary, lap, median_run, row,
                     timed)


def build_base_index(b: Bench) -> None:
    """The index every later section reads, when this section (which builds it) is skipped."""
    from assistant.index.ingest import ingest

    ingest(b.settings, b.embedder)


def run(b: Bench) -> dict[str, Any]:
    """Builds the base index at ``b.settings.index_dir`` and times it against the baselines."""
    from assistant.corpus.chunking import embedding_text
    from assistant.index.ingest import ingest, make_plan, sentence_records

    report, ingest_s = timed(ingest, b.settings, b.embedder)
    chunks = corpus_chunks(b.settings)
    chunk_texts = [embedding_text(c) for c in chunks]
    sentence_texts = [r.text for c in chunks for r in sentence_records(c)]
    raw_all_s = lap(b.embedder.embed_documents, chunk_texts + sentence_texts)
    st = b.sentence_transformer
    st_chunks_s = lap(st.encode, chunk_texts, batch_size=32, normalize_embeddings=True)
    st_all_s = lap(st.encode, chunk_texts + sentence_texts, batch_size=32, normalize_embeddings=True)
    plan_s = sum(lap(make_plan, b.settings) for _ in range(5)) / 5
    index, corpus = str(b.settings.index_dir), str(b.corpus)
    reingest = median_run(cli("ingest", "--index", index, "--corpus", corpus))
    interpreter = median_run([PY, "-c", "pass"])
    import_cli = median_run([PY, "-c", "import assistant.cli"])
    profile = cli_import_profile("ingest", "--index", index, "--corpus", corpus)
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": len(sentence_texts),
        "full_ingest_s": round(ingest_s, 3),
        "chunks_per_s": round(report.chunks / ingest_s, 1),
        "texts_per_s": round((report.chunks + len(sentence_texts)) / ingest_s, 1),
        "model": MODEL,
        "raw_embed_documents_chunks_and_sentences_s": round(raw_all_s, 3),
        "ingest_over_raw_embedding_of_same_texts": round(ingest_s / raw_all_s, 2),
        "sentence_transformers_encode_chunks_s": round(st_chunks_s, 3),
        "sentence_transformers_encode_chunks_per_s": round(len(chunk_texts) / st_chunks_s, 1),
        "sentence_transformers_encode_chunks_and_sentences_s": round(st_all_s, 3),
        "ingest_over_sentence_transformers_encode": round(ingest_s / st_all_s, 2),
        "note": "ingest embeds every passage AND every sentence of it (answers quote sentences), "
                "so compare it with embedding chunks+sentences: raw with the same embedder, and raw "
                "SentenceTransformer.encode (torch)",
        "reingest_unchanged_cli": reingest,
        "reingest_target_s": 1.0,
        "reingest_in_process_plan_s": round(plan_s, 3),
        "python_startup_s": interpreter["median_s"],
        "import_assistant_cli_s": import_cli["median_s"],
        "reingest_importtime": profile,
    }


def rows(i: dict[str, Any]) -> list[Row]:
    if not i.get("chunks"):
        return []
    return [
        row("ingest: bundled corpus", f"{i['documents']} docs, {i['chunks']} chunks, {i['sentences']} sentences"),
        row("ingest: full, s", i["full_ingest_s"], f"{i['chunks_per_s']} chunks/s, {i['texts_per_s']} texts/s"),
        row("  raw embed_documents, same texts, s", i["raw_embed_documents_chunks_and_sentences_s"],
            f"ingest / raw = {i['ingest_over_raw_embedding_of_same_texts']}x ({i['model']})"),
        row("  SentenceTransformer.encode chunks, s", i["sentence_transformers_encode_chunks_s"],
            f"{i['sentence_transformers_encode_chunks_per_s']} chunks/s (torch)"),
        row("  SentenceTransformer.encode chunks+sentences, s", i["sentence_transformers_encode_chunks_and_sentences_s"],
            f"ingest / encode = {i['ingest_over_sentence_transformers_encode']}x"),
        row("re-ingest unchanged (CLI), s", i["reingest_unchanged_cli"]["median_s"], "target <= 1 s"),
        row("  of which python start / import assistant.cli, s", f"{i['python_startup_s']} / {i['import_assistant_cli_s']}"),
        row("  of which imports (importtime), s", i["reingest_importtime"]["total_import_s"],
            heavy_summary(i["reingest_importtime"])),
        row("  of which plan (in process), s", i["reingest_in_process_plan_s"]),
    ]
