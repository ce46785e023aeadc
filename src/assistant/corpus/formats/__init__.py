"""Turn one corpus file of any supported format into plain text plus metadata.

``read_source`` is the only entry point. Every format comes out in the shape
``corpus.cleaning.clean`` expects: one paragraph or heading per line, a blank line
between blocks, headings as plain lines (no ``#``), numbered headings such as
"7. Fever or Chills" kept with their number. Each format has its module
(``text``, ``markdown``, ``html``, ``pdf``, ``docx``); they share ``encoding``
(bytes to str), ``metadata`` (front matter, dates), ``unwrap`` (wrapped lines
joined) and ``common`` (``Source`` and error plumbing). pypdf, python-docx,
trafilatura, markdown-it-py and charset_normalizer are each imported in one of
them and nowhere else, lazily, so a missing one only matters for the files
that need it.

>>> src = read_source(Path("corpus/leaflet.pdf"))  # doctest: +SKIP
>>> src.metadata, len(src.pages), src.text.split("\\n\\n")[:2]  # doctest: +SKIP
({'title': 'Aftercare Leaflet'}, 2, ['Aftercare After Microneedling', 'Redness after microneedling is ...'])

Every problem with a file is raised as ``CorpusError`` with a one-line
message that names the file and says how to fix it; library exceptions are
wrapped, never leaked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assistant.corpus.formats.common import Source, brief, human_size
from assistant.corpus.formats.docx import read_docx
from assistant.corpus.formats.html import read_html
from assistant.corpus.formats.markdown import read_markdown
from assistant.corpus.formats.pdf import read_pdf
from assistant.corpus.formats.text import read_txt
from assistant.errors import CorpusError

__all__ = ["MAX_BYTES", "MAX_TEXT_CHARS", "SUPPORTED", "Source", "read_source"]

# Both limits are read when a file is read, so a test may lower them on this module.
MAX_BYTES = 5_000_000
# The text a file may expand to: a 389 kB .docx once held 99 MB of text (195,279 passages).
MAX_TEXT_CHARS = 2_000_000

# A reader takes the file's path (for messages) and its bytes, and raises CorpusError.
_READERS: dict[str, Callable[[Path, bytes], Source]] = {
    ".txt": read_txt,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}
SUPPORTED: tuple[str, ...] = tuple(_READERS)


def read_source(path: Path) -> Source:
    """Read ``path`` according to its extension; raise CorpusError if it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise CorpusError(
            f"{path}: unsupported file type {suffix or '(no extension)'}; use .txt, .md, .html, .pdf or .docx."
        )
    source = reader(path, _read_bytes(path))
    if len(source.text) > MAX_TEXT_CHARS:
        raise CorpusError(
            f"{path} expands to {len(source.text):,} characters of text, over the {MAX_TEXT_CHARS:,} a document "
            "may have; split it into smaller articles."
        )
    if not source.text.strip():
        raise CorpusError(f"{path} has no text left after extraction; check that the file holds the article.")
    return source


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CorpusError(
                f"{path} is {human_size(size)}, over the {human_size(MAX_BYTES)} limit; split it into smaller articles."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read {path}: {exc.strerror or brief(exc)}. Check that it exists and is readable.") from exc
    if len(data) > MAX_BYTES:  # subtle: the file may have grown since stat()
        raise CorpusError(f"{path} is over the {human_size(MAX_BYTES)} limit; split it into smaller articles.")
    if not data.strip():
        raise CorpusError(f"{path} is empty; add the article's text or remove the file.")
    return data
