"""PDF leaflets (.pdf): the text layer of each page, wrapped lines joined.

pypdf is imported here and nowhere else, lazily. Page numbers are dropped,
ligatures spelled out, bullets kept as paragraph starts, and lines that the
layout wrapped are joined (``unwrap`` with the page's width).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from assistant.corpus.formats.common import Source, library_log, require
from assistant.corpus.formats.encoding import newlines
from assistant.corpus.formats.unwrap import unwrap
from assistant.errors import CorpusError

__all__ = ["read_pdf"]

_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "\u00ad": ""})
_PDF_BULLET = re.compile(r"^[•●▪◦‣∙·]\s*")
_BULLET_MARK = "• "  # kept through unwrap so a bullet starts a block, then removed


def read_pdf(path: Path, data: bytes) -> Source:
    """The text of every page (``Source.pages``) and the document's title, if it has a real one.

    Raises CorpusError for a damaged, password-protected or text-less (scanned)
    PDF; what pypdf logged while failing is added to the message.
    """
    with library_log("pypdf") as said:
        try:
            return _parse_pdf(path, data)
        except CorpusError as exc:
            if not said.lines:
                raise
            detail = "; ".join(dict.fromkeys(said.lines))[:200]
            raise CorpusError(f"{exc} (pypdf: {detail})") from exc.__cause__


def _parse_pdf(path: Path, data: bytes) -> Source:
    pypdf = require("pypdf", "pypdf", path)
    corrupt = f"{path} is not a readable PDF (damaged or incomplete); export or download it again."
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        # Leaflets are often "protected" with only an owner password (no copying);
        # the empty user password opens those.
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(f"{path} is password-protected; save a copy without a password.")
        raw_pages = [page.extract_text() or "" for page in reader.pages]
    except CorpusError:
        raise
    except pypdf.errors.DependencyError as exc:  # AES needs the cryptography package
        raise CorpusError(f"{path} is encrypted; run `pip install pypdf[crypto]`, or save a copy without protection.") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for damaged files
        raise CorpusError(corrupt) from exc
    try:
        title = str(reader.metadata.title or "").strip() if reader.metadata is not None else ""
    except Exception:  # noqa: BLE001 - a broken info dictionary costs the title, not the file
        title = ""
    if not raw_pages:
        raise CorpusError(corrupt)
    pages = tuple(_page_text(raw) for raw in raw_pages)
    if not any(pages):
        raise CorpusError(
            f"{path} has no text layer (scanned PDF?); export it from the original document with text, or run OCR on it."
        )
    # Word and friends fill the title with the file name; that is not a title.
    if re.search(r"^microsoft \w+ - |\.(?:docx?|pdf|pptx?)$", title, re.I):
        title = ""
    return Source(text="\n\n".join(p for p in pages if p), metadata={"title": title} if title else {}, pages=pages)


def _page_text(raw: str) -> str:
    lines = []
    for line in newlines(raw.translate(_LIGATURES)).split("\n"):
        line = _PDF_BULLET.sub(_BULLET_MARK, re.sub(r"\s+", " ", line).strip())
        if line and line != _BULLET_MARK.strip() and not _PAGE_NUMBER.match(line):
            lines.append(line)
    width = max((len(line) for line in lines), default=0)
    return "\n\n".join(line.removeprefix(_BULLET_MARK) for line in unwrap(lines, width=width))
