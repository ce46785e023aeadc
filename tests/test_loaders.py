"""read_source on real files of every format, built here, and on every way a file can be bad.

PDFs are made with fpdf2 and Word files with python-docx, so each test reads
what a real tool wrote. Failure cases sit in one table of (name, bytes,
expected message fragment): every bad file must raise CorpusError with a
one-line message, never a library's own exception.
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import pytest

from assistant.corpus import formats as loaders
from assistant.errors import CorpusError
from assistant.corpus.formats import MAX_BYTES, SUPPORTED, Source, read_source

ROOT = Path(__file__).resolve().parents[1]

ARTICLE = (
    "Redness after microneedling is expected and usually fades within two to three days. "
    "Your skin may feel warm and tight, similar to a mild sunburn, while the tiny channels close."
)
WARNING = (
    "A fever after a microneedling session is not a normal reaction and should be checked "
    "by a doctor the same day."
)


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _lines(source: Source) -> list[str]:
    return source.text.split("\n")


# -- plain text ---------------------------------------------------------------

ACCENTED = (
    "Après le microneedling, évitez le maquillage pendant 24 heures. La peau peut être rouge "
    "et légèrement gonflée; appelez la clinique si une fièvre apparaît. Crème hydratante conseillée.\n"
    "Zweiter Absatz: Rötungen sind normal, größere Schwellungen müssen ärztlich geprüft werden.\n"
)


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"],
    ids=["utf8", "utf8-bom", "cp1252-detected", "latin1-detected", "utf16-bom"],
)
def test_txt_decodes_each_encoding(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path, "note.txt", ACCENTED.encode(encoding))
    assert read_source(path) == Source(text=ACCENTED, metadata={})


def test_txt_cp1252_smart_punctuation(tmp_path: Path) -> None:
    text = "It’s normal – “really” – to see redness for 2–3 days; the follow-up costs €50. Café au lait spots don’t change.\n"
    assert read_source(_write(tmp_path, "a.txt", text.encode("cp1252"))).text == text


def test_txt_utf8_with_a_stray_windows_byte_keeps_the_utf8(tmp_path: Path) -> None:
    # A UTF-8 file with one pasted cp1252 "é": the rest must not turn into "â€™".
    data = ("It’s normal – “redness” lasts 2–3 days. " * 5).encode() + b"Caf\xe9 cr\xe8me."
    assert read_source(_write(tmp_path, "a.txt", data)).text == "It’s normal – “redness” lasts 2–3 days. " * 5 + "Café crème."


def test_txt_normalises_line_endings_only(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.txt", b"Title\r\n\r\n  Indented line kept as is.\r\nOld Mac line.\rEnd")
    assert read_source(path).text == "Title\n\n  Indented line kept as is.\nOld Mac line.\nEnd"


@pytest.mark.parametrize("path", sorted((ROOT / "corpus").glob("*.txt")), ids=lambda p: p.name)
def test_real_corpus_files_load_unchanged(path: Path) -> None:
    source = read_source(path)
    assert source.text == path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    assert source.metadata == {} and source.pages == ()


# -- Markdown -----------------------------------------------------------------

MARKDOWN = """---
title: "Redness After Microneedling: What Is Normal"
source: https://clinic.example/redness
date: 2024-03-05
reviewed: 5 March 2025
Reviewed-By: Dr. A. Patel
tags: [aftercare]
---
# Redness After Microneedling

Redness is **expected** and _usually_ fades within
two to three days. See [our guide](https://clinic.example/guide) for more.
![a photo of red skin](img/red.png)

## When to Call

- Redness that *spreads* after day two
* Pus or a `yellow` crust
1. Fever or Chills
7. Fever or Chills

```bash
echo this code is dropped
```

> Call <b>999</b> if you have trouble breathing.

| Day | What to expect |
|-----|----------------|
| 1   | Redness        |

Setext Heading
--------------

Literal \\*asterisks\\* and snake_case_names stay.
<!-- editor's note:
check this with Dr. Patel -->
"""


def test_markdown_front_matter_and_structure(tmp_path: Path) -> None:
    source = read_source(_write(tmp_path, "redness.md", MARKDOWN))
    assert source.metadata == {
        "title": "Redness After Microneedling: What Is Normal",
        "source_url": "https://clinic.example/redness",
        "date": "2024-03-05",
        "reviewed": "2025-03-05",
        "reviewed_by": "Dr. A. Patel",
    }
    assert source.text == "\n\n".join(
        [
            "Redness After Microneedling",
            "Redness is expected and usually fades within two to three days. See our guide for more.",
            "When to Call",
            "Redness that spreads after day two",
            "Pus or a yellow crust",
            "1. Fever or Chills",
            "7. Fever or Chills",
            "Call 999 if you have trouble breathing.",
            "Day | What to expect",
            "1 | Redness",
            "Setext Heading",
            "Literal *asterisks* and snake_case_names stay.",
        ]
    )
    assert source.pages == ()


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("url: https://a.example\ndate: March 5, 2024", {"source_url": "https://a.example", "date": "2024-03-05"}),
        ("source_url: https://b.example\nreviewed_by: Nurse Kim", {"source_url": "https://b.example", "reviewed_by": "Nurse Kim"}),
        ("date: 2024-03-05T10:00:00Z\nreviewed: 15/12/2024", {"date": "2024-03-05", "reviewed": "2024-12-15"}),
        ("date: 03/04/2024", {"date": "03/04/2024"}),  # day and month could be swapped: kept as written
        ("title:\nauthor: nobody", {}),
    ],
)
def test_markdown_front_matter_keys_and_dates(tmp_path: Path, front_matter: str, expected: dict[str, str]) -> None:
    path = _write(tmp_path, "a.markdown", f"---\n{front_matter}\n---\nBody text.\n")
    assert read_source(path) == Source(text="Body text.", metadata=expected)


def test_markdown_without_front_matter_keeps_one_paragraph_per_line(tmp_path: Path) -> None:
    text = "Aftercare\nKeep skin clean and\navoid make-up.\nWear sunscreen daily.\n"
    source = read_source(_write(tmp_path, "notes.md", text))
    assert source.text == "Aftercare\n\nKeep skin clean and avoid make-up.\n\nWear sunscreen daily."
    assert source.metadata == {}


# -- HTML ----------------------------------------------------------------------

HTML = f"""<!DOCTYPE html>
<!-- saved from url=(0040)https://glowclinic.example/blog/redness -->
<html lang="en"><head><meta charset="windows-1252">
<title>Redness After Microneedling | Glow Clinic</title>
<meta property="og:title" content="Redness After Microneedling: What Is Normal">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. Accept all cookies</div>
<header><nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/services">Services</a></li>
<li><a href="/book">Book Now</a></li><li><a href="/contact">Contact Us</a></li></ul></nav></header>
<div class="ad banner-ad">Special offer: 20% off all facials this month only!</div>
<main><article>
<h1>Redness After Microneedling: What Is Normal</h1>
<p>{ARTICLE}</p>
<h2>When to Call</h2>
<p>Call your provider if redness spreads, becomes more painful after the second day, or comes with pus. These can be signs of an infection that needs treatment.</p>
<h3>7. Fever or Chills</h3>
<p>{WARNING}</p>
<ul><li>Keep the treated skin clean and avoid make-up for 24 hours.</li><li>Use a gentle, fragrance-free moisturiser.</li></ul>
<p>Most people return to their usual <strong>skincare routine</strong> after about a week – café-style “gentle” products first.</p>
</article></main>
<aside class="newsletter"><h3>Subscribe to our newsletter</h3><p>Get the latest skincare tips and exclusive offers delivered to your inbox.</p>
<form><input type="email"><button>Sign up</button></form></aside>
<div class="advertisement">Buy the GlowPen 3000 today, free shipping!</div>
<footer><p>© 2024 Glow Clinic. All rights reserved.</p><p><a href="/privacy">Privacy Policy</a> | <a href="/terms">Terms</a></p></footer>
</body></html>
"""


@pytest.mark.parametrize("name", ["redness.html", "redness.htm"])
def test_html_keeps_the_article_and_drops_the_boilerplate(tmp_path: Path, name: str) -> None:
    source = read_source(_write(tmp_path, name, HTML.encode("cp1252")))  # decoded via its meta charset
    lines = _lines(source)
    for heading in ("Redness After Microneedling: What Is Normal", "When to Call", "7. Fever or Chills"):
        assert heading in lines, f"heading {heading!r} lost: {lines}"
    for sentence in (ARTICLE, WARNING, "Keep the treated skin clean and avoid make-up for 24 hours."):
        assert sentence in lines
    assert "café-style “gentle” products first." in source.text
    for boilerplate in ("cookies", "Subscribe to our newsletter", "Home", "Book Now", "Special offer",
                        "GlowPen", "All rights reserved", "Privacy Policy", "inbox"):
        assert boilerplate not in source.text
    assert "**" not in source.text and "#" not in source.text
    assert source.metadata == {
        "title": "Redness After Microneedling: What Is Normal",
        "source_url": "https://glowclinic.example/blog/redness",
        "date": "2024-03-05",
    }


# -- PDF -------------------------------------------------------------------------


def _pdf(pages: list[list[tuple[str, str]]], title: str | None = None, **encryption: object) -> bytes:
    """A real PDF: each page is a list of (kind, text); kind "h" = heading, "p" = wrapped paragraph, "l" = one line."""
    from fpdf import FPDF  # fpdf2, a test-only dependency

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if encryption:
        pdf.set_encryption(**encryption)
    for blocks in pages:
        pdf.add_page()
        for kind, text in blocks:
            pdf.set_font("Helvetica", "B" if kind == "h" else "", 14 if kind == "h" else 11)
            if kind == "p":
                pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
            else:
                pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_pdf_two_pages(tmp_path: Path) -> None:
    data = _pdf(
        [
            [("h", "Aftercare After Microneedling"), ("p", ARTICLE), ("p", "Avoid make-up for 24 hours. " * 4)],
            [
                ("h", "7. Fever or Chills"),
                ("p", WARNING),
                ("l", "Swelling around the eyes is common and is part of the normal inflam-"),
                ("l", "mation that settles within two days after the treatment session ends."),
                ("l", "· Keep the skin clean"),  # core fonts have no "•"; "·" is handled alike
                ("l", "· Call the clinic if pus appears"),
                ("l", "2"),  # a page number, dropped
            ],
        ],
        title="Aftercare Leaflet",
    )
    source = read_source(_write(tmp_path, "leaflet.pdf", data))
    assert len(source.pages) == 2
    assert source.text == "\n\n".join(source.pages)
    first, second = (page.split("\n\n") for page in source.pages)
    assert first == ["Aftercare After Microneedling", ARTICLE, ("Avoid make-up for 24 hours. " * 4).strip()]
    assert second == [
        "7. Fever or Chills",
        WARNING,
        "Swelling around the eyes is common and is part of the normal inflammation that settles "
        "within two days after the treatment session ends.",
        "Keep the skin clean",
        "Call the clinic if pus appears",
    ]
    assert source.metadata == {"title": "Aftercare Leaflet"}


# -- DOCX ------------------------------------------------------------------------


def test_docx_headings_paragraphs_lists_and_properties(tmp_path: Path) -> None:
    import datetime as dt

    import docx
    document = docx.Document()
    document.core_properties.title = "Aftercare Leaflet"
    document.core_properties.created = dt.datetime(2024, 3, 5, 9, 30, tzinfo=dt.timezone.utc)
    document.add_heading("Aftercare After Microneedling", level=1)
    document.add_paragraph(ARTICLE)
    document.add_paragraph("Keep the skin clean", style="List Bullet")
    document.add_paragraph("Cleanse gently", style="List Number")  # Word numbers these itself
    document.add_paragraph("Moisturise", style="List Number")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Day 1", "Redness"
    document.add_paragraph("")
    document.add_heading("7. Fever or Chills", level=2)
    document.add_paragraph(WARNING)
    buffer = io.BytesIO()
    document.save(buffer)

    source = read_source(_write(tmp_path, "leaflet.docx", buffer.getvalue()))
    assert source.text.split("\n\n") == [
        "Aftercare After Microneedling",
        ARTICLE,
        "Keep the skin clean",
        "1. Cleanse gently",
        "2. Moisturise",
        "Day 1 | Redness",
        "7. Fever or Chills",
        WARNING,
    ]
    assert source.metadata == {"title": "Aftercare Leaflet", "date": "2024-03-05"}


# -- failures --------------------------------------------------------------------

def _corrupt_docx() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<not-really/>")
    return buffer.getvalue()


FAILURES = [
    ("notes.xyz", b"Some text", "unsupported file type .xyz; use .txt, .md, .html, .pdf or .docx"),
    ("notes", b"Some text", "unsupported file type (no extension)"),
    ("old.doc", b"\xd0\xcf\x11\xe0", "unsupported file type .doc"),
    ("empty.txt", b"", "is empty"),
    ("blank.md", b" \n\r\n\t\n", "is empty"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
    ("utf16-broken.txt", b"\xff\xfeR\x00e\x00\x00\xd8", "not readable text"),
    ("noise.txt", bytes(b | 0x80 for b in random.Random(7).randbytes(600)), "not readable text (unknown encoding); re-save it as UTF-8"),
    ("random.txt", random.Random(7).randbytes(600).replace(b"\x00", b"\x01"), "binary data"),
    ("bad.md", "---\ntitle: [unclosed\ndate: 2024\n---\nBody.\n", "fix the YAML between the --- lines"),
    ("open.md", "---\ntitle: Redness\nBody text with no closing line.\n", "add a closing --- line"),
    ("list.md", "---\n- just\n- a list\n---\nBody.\n", "fix the YAML between the --- lines"),
    ("only-front.md", "---\ntitle: Redness\n---\n\n", "no text left after extraction"),
    ("nothing.html", "<html><head><title>x</title></head><body></body></html>", "no article text"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", "not a readable PDF"),
    ("word.pdf", b"This is a Word file renamed to .pdf", "not a readable PDF"),
    ("broken.docx", b"PK\x03\x04 this is not a zip archive", "not a readable Word document"),
    ("empty-zip.docx", _corrupt_docx(), "not a readable Word document"),
]


@pytest.mark.parametrize(("name", "data", "expected"), FAILURES, ids=[f[0] for f in FAILURES])
def test_bad_files_raise_a_helpful_corpus_error(tmp_path: Path, name: str, data: bytes | str, expected: str) -> None:
    path = _write(tmp_path, name, data)
    with pytest.raises(CorpusError) as caught:
        read_source(path)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message and "\n" not in message


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    from fpdf import FPDF  # fpdf2, a test-only dependency

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 80, style="F")  # what a scan looks like to a text extractor: no text
    path = _write(tmp_path, "scan.pdf", bytes(pdf.output()))
    with pytest.raises(CorpusError, match=r"no text layer \(scanned PDF\?\); export it .* with text"):
        read_source(path)


def test_password_protected_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, "locked.pdf", _pdf([[("l", "Secret")]], owner_password="o", user_password="u"))
    with pytest.raises(CorpusError, match="password-protected; save a copy without a password"):
        read_source(path)


@pytest.mark.parametrize("method", ["RC4", "AES_256"])
def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path, method: str) -> None:
    # "No copying" leaflets: AES needs pypdf[crypto] (the cryptography package).
    from fpdf.enums import EncryptionMethod

    data = _pdf([[("l", "Redness fades in days.")]], owner_password="o", encryption_method=EncryptionMethod[method])
    assert read_source(_write(tmp_path, "no-copy.pdf", data)).pages == ("Redness fades in days.",)


def test_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_BYTES", 100)
    path = _write(tmp_path, "long.txt", "Redness is normal. " * 10)
    with pytest.raises(CorpusError, match=r"is 190 bytes, over the 100 bytes limit; split it into smaller articles"):
        read_source(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="Cannot read .*gone.txt"):
        read_source(tmp_path / "gone.txt")


@pytest.mark.parametrize(("suffix", "module", "package"), [(".pdf", "pypdf", "pypdf"), (".docx", "docx", "python-docx"), (".html", "trafilatura", "trafilatura")])
def test_missing_optional_dependency_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, module: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(CorpusError, match=f"pip install {package}"):
        read_source(_write(tmp_path, f"a{suffix}", b"<html>some content</html>"))


@pytest.mark.parametrize("suffix", SUPPORTED)
def test_garbage_in_any_format_raises_only_corpus_error(tmp_path: Path, suffix: str) -> None:
    """The contract: whatever the bytes, a bad file is a CorpusError and nothing else."""
    rng = random.Random(suffix)
    payloads = [bytes(rng.randrange(256) for _ in range(2000)), b"\x00" * 50, b"%PDF-1.7\n" + b"\xff" * 64, b"PK\x05\x06" + b"\x00" * 18]
    for i, payload in enumerate(payloads):
        path = _write(tmp_path, f"junk{i}{suffix}", payload)
        try:
            read_source(path)
        except CorpusError as exc:
            assert "\n" not in str(exc)


def test_public_surface() -> None:
    assert SUPPORTED == (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
    assert tuple(loaders._READERS) == SUPPORTED
    assert MAX_BYTES == 5_000_000
    assert set(loaders.__all__) == {"MAX_BYTES", "MAX_TEXT_CHARS", "SUPPORTED", "Source", "read_source"}
