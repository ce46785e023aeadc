"""Swap in documents of every format: ingested, retrieved and cited with their provenance."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.index.embedding import HashingEmbedder
from assistant.index.ingest import ingest
from assistant.corpus.cleaning import is_stale
from assistant.pipeline import Assistant
from tests.test_loaders import HTML, WARNING, _pdf

LEAFLET_P2 = (
    "Apply a thin layer of fragrance-free balm to the treated area twice a day for the first three days "
    "after your appointment at the clinic."
)
NOTE = (
    "---\ntitle: Clinic note on cold compresses\nsource: https://clinic.example/notes/compress\n"
    "date: 2020-01-10\nreviewed: 2020-02-01\nreviewed_by: Dr. A. Example\n---\n\n"
    "# Cold compresses\n\nWrap an ice pack in a clean cloth and hold it on swollen skin for ten minutes at a time.\n"
)


def build(tmp_path: Path) -> Assistant:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "redness.html").write_bytes(HTML.encode("cp1252"))
    (corpus / "leaflet.pdf").write_bytes(
        _pdf(
            [
                [("h", "Aftercare Leaflet"), ("p", "Keep the skin clean and avoid make-up for a full day after treatment.")],
                [("h", "Moisturising"), ("p", LEAFLET_P2)],
            ],
            title="Aftercare Leaflet",
        )
    )
    (corpus / "compress.md").write_text(NOTE, encoding="utf-8")
    (corpus / "notes.xyz").write_text("not an article", encoding="utf-8")
    settings = Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": tmp_path / "index", "model": "hashing"})
    report = ingest(settings, HashingEmbedder())
    assert report.documents == 3 and [s.path for s in report.skipped] == ["notes.xyz"]
    return Assistant.load(settings, HashingEmbedder())


def test_every_format_is_cited_with_its_provenance(tmp_path: Path) -> None:
    assistant = build(tmp_path)

    pdf = assistant.ask("apply a thin layer of fragrance-free balm to the treated area twice a day")
    cited = {c.doc: c for c in pdf.citations}
    assert cited["leaflet.pdf"].page == 2 and cited["leaflet.pdf"].title == "Aftercare Leaflet"

    md = assistant.ask("wrap an ice pack in a clean cloth and hold it on swollen skin")
    note = {c.doc: c for c in md.citations}["compress.md"]
    assert note.title == "Clinic note on cold compresses"
    assert note.source_meta == {"source_url": "https://clinic.example/notes/compress", "date": "2020-01-10",
                                "reviewed": "2020-02-01", "reviewed_by": "Dr. A. Example"}
    assert note.stale  # reviewed long before the default two-year limit
    assert note.to_dict()["source_url"] == "https://clinic.example/notes/compress"

    html = assistant.ask(WARNING)
    page = {c.doc: c for c in html.citations}["redness.html"]
    assert page.section.endswith("7. Fever or Chills")
    assert page.source_meta["source_url"] == "https://glowclinic.example/blog/redness"
    assert not page.stale and page.page is None
    for answer in (pdf, md, html):
        assert "Subscribe" not in answer.answer and "GlowPen" not in answer.answer


def test_is_stale() -> None:
    from datetime import date

    assert is_stale({"reviewed": "2020-01-01"}, 365, today=date(2022, 1, 1))
    assert not is_stale({"reviewed": "2021-06-01"}, 365, today=date(2022, 1, 1))
    assert not is_stale({}, 365)
    assert not is_stale({"reviewed": "last spring"}, 365)
