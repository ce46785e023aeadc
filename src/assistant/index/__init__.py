"""Stage 0, offline: embed the passages and sentences, store them in Chroma, save the derived files, ingest a corpus."""
