"""A hostile corpus folder (issue #17): links out of it, decompression bombs, names that are not
UTF-8 or hold terminal escapes. Real files on disk, the real loaders, the real CLI and Chroma."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant.corpus.cleaning import load_corpus, printable_name
from tests import tally
from tests.conftest import CORPUS, ROOT

ARTICLE = "Redness\n\nSome redness after microneedling is normal and fades within two days.\n"


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    return folder


def reasons(folder: Path) -> dict[str, str]:
    return {s.path: s.reason for s in load_corpus(folder)[1]}


def test_links_out_of_the_folder_dangling_and_looping_are_named_and_not_followed(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\nThe clinic's door code is 4711 and this must never be quoted.\n")
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    (corpus / "secret.txt").symlink_to(outside)
    (corpus / "gone.txt").symlink_to(tmp_path / "nothing-here.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "elsewhere").symlink_to(tmp_path)
    (corpus / "inside.txt").symlink_to(corpus / "microneedling-bad-reactions-guide.txt")
    tally.hostile_tried(6)
    docs, skipped = load_corpus(corpus)
    found = {s.path: s.reason for s in skipped}
    assert "outside the corpus folder" in found["passwd.txt"] and "/etc/passwd" in found["passwd.txt"]
    assert "outside the corpus folder" in found["secret.txt"]
    assert "does not exist" in found["gone.txt"]
    assert "loops" in found["loop.txt"]
    assert "elsewhere" in found and "not followed" in found["elsewhere"]
    # A link to a file inside the folder is read, and counted once.
    assert "same content as microneedling" in found.get("inside.txt", "") or \
        "same content as inside.txt" in found["microneedling-bad-reactions-guide.txt"]
    assert not any("4711" in d.text or "root:" in d.text for d in docs)
    for _ in range(6):
        tally.hostile()


def docx_with(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Redness")
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_document_that_expands_hugely_is_skipped_with_its_size(corpus: Path) -> None:
    from assistant.corpus.formats import MAX_BYTES, MAX_TEXT_CHARS

    tally.hostile_tried(2)
    data = docx_with("Some redness after microneedling is normal. " * (MAX_TEXT_CHARS // 40))
    assert len(data) < MAX_BYTES  # small on disk: the file-size cap alone would let it in
    (corpus / "bomb.docx").write_bytes(data)
    # A zip whose document.xml unpacks to 60 MB of spaces: refused before it is parsed.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * 60_000_000)
    (corpus / "zipbomb.docx").write_bytes(out.getvalue())
    found = reasons(corpus)
    assert "characters of text, over the" in found["bomb.docx"]
    assert "unpacks to 60.0 MB" in found["zipbomb.docx"]
    tally.hostile()
    tally.hostile()


def test_names_that_are_not_utf8_or_hold_escapes_are_indexed_and_printed_safely(
    corpus: Path, tmp_path: Path, real_embedder
) -> None:
    from assistant.config import Settings
    from assistant.index.ingest import ingest

    tally.hostile_tried(3)
    with open(os.path.join(os.fsencode(corpus), b"caf\xe9-redness.txt"), "w", encoding="utf-8") as f:
        f.write("Cafe redness\n\nA cool compress soothes redness after microneedling when the skin feels hot.\n")
    (corpus / "evil\x1b[2J\x1b]0;owned\x07.txt").write_text(ARTICLE)
    (corpus / "rtl\u202etxt.exe.md").write_text("# Swelling\n\nMild swelling after microneedling settles in a day or two.\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONIOENCODING": "utf-8:strict"}
    dry = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "--dry-run", "--corpus", str(corpus),
                          "--index", str(tmp_path / "index")], capture_output=True, env=environment, timeout=300)
    assert dry.returncode == 0, dry.stderr.decode("utf-8", "replace")[-1500:]
    shown = dry.stdout + dry.stderr
    assert b"\x1b" not in shown and b"\x07" not in shown and "\u202e".encode() not in shown
    assert b"caf\\xe9-redness.txt" in shown and b"evil\\x1b[2J" in shown
    settings = Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": tmp_path / "index"})
    report = ingest(settings, real_embedder)
    assert report.documents == 6 and "\x1b" not in report.summary()
    for _ in range(3):
        tally.hostile()


def test_printable_name_leaves_ordinary_names_alone() -> None:
    assert printable_name("Aftercare – día 2.md") == "Aftercare – día 2.md"
    assert printable_name("sub/folder/a.txt") == "sub/folder/a.txt"
