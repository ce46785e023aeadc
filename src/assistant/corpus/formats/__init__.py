"""Turn one corpus file of any supported format into plain text plus metadata.

``read_source`` is the only entry point. Every format comes out in the shape
``corpus.clean`` expects: one paragraph or heading per line, a blank line
between blocks, headings as plain lines (no ``#``), numbered headings such as
"7. Fever or Chills" kept with their number. pypdf, python-docx, trafilatura
and charset_normalizer are imported here and nowhere else, lazily, so a
missing one only matters for the files that need it.

>>> src = read_source(Path("corpus/leaflet.pdf"))  # doctest: +SKIP
>>> src.metadata, len(src.pages), src.text.split("\n\n")[:2]  # doctest: +SKIP
({'title': 'Aftercare Leaflet'}, 2, ['Aftercare After Microneedling', 'Redness after microneedling is ...'])

Every problem with a file is raised as ``CorpusError`` with a one-line
message that names the file and says how to fix it; library exceptions are
wrapped, never leaked.
"""

from __future__ import annotations

import codecs
import datetime as dt
import html
import io
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import CorpusError

__all__ = ["MAX_BYTES", "MAX_TEXT_CHARS", "SUPPORTED", "Source", "read_source"]

SUPPORTED: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_BYTES = 5_000_000
# The text a file may expand to: a 389 kB .docx once held 99 MB of text (195,279 passages).
MAX_TEXT_CHARS = 2_000_000
MAX_UNPACKED_BYTES = 50_000_000  # what a .docx (a zip) may unpack to, checked before parsing it
_MAX_CHAOS = 0.1  # charset_normalizer "mess" ratio above which a guess is not trusted
_CONTROL = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f]")  # never in text; \x1b (ESC) is, in ANSI logs


@dataclass(frozen=True)
class Source:
    """The text of one file and what it says about itself.

    ``metadata`` holds only the keys the file provides, from: title, source_url,
    date, reviewed (dates as YYYY-MM-DD where parseable), reviewed_by.
    ``pages`` is set for PDFs only: the text of page i+1 at index i ("" for a
    page without text), and ``text == "\\n\\n".join(p for p in pages if p)``.
    """

    text: str
    metadata: dict[str, str]
    pages: tuple[str, ...] = field(default=())


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


# -- bytes and encodings ------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CorpusError(
                f"{path} is {_size(size)}, over the {_size(MAX_BYTES)} limit; split it into smaller articles."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read {path}: {exc.strerror or _brief(exc)}. Check that it exists and is readable.") from exc
    if len(data) > MAX_BYTES:  # subtle: the file may have grown since stat()
        raise CorpusError(f"{path} is over the {_size(MAX_BYTES)} limit; split it into smaller articles.")
    if not data.strip():
        raise CorpusError(f"{path} is empty; add the article's text or remove the file.")
    return data


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.1f} kB" if n >= 1000 else f"{n} bytes"


def _decode(path: Path, data: bytes, declared: str | None = None) -> str:
    """Bytes -> str: a BOM, then UTF-8, then a declared charset, then a detected one."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data.decode("utf-8-sig")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")  # Notepad's "Unicode"; the BOM explains the NUL bytes
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not readable text (bad byte at {exc.start}); re-save it as UTF-8.") from exc
    if b"\x00" in data:
        raise CorpusError(f"{path} holds binary data, not text; save the article as .txt, .md, .pdf or .docx.")
    if len(_CONTROL.findall(data[:65536])) > 0.05 * min(len(data), 65536):
        raise CorpusError(f"{path} holds binary data, not text; save the article as .txt, .md, .pdf or .docx.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            # Browsers read a "latin-1" label as windows-1252, and so do we.
            name = codecs.lookup(declared).name
            return data.decode("cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name)
        except (LookupError, UnicodeDecodeError):
            pass
    return _mostly_utf8(data) or _detect(path, data)


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few stray Windows bytes pasted in: keep the UTF-8, read the strays as cp1252.

    Whole-file detection would pick one 8-bit code page and garble every
    UTF-8 character ("It’s" -> "It‚Äôs"), so mostly-valid UTF-8 is repaired here.
    """
    text = data.decode("utf-8", errors="surrogateescape")
    stray = len(re.findall("[\udc80-\udcff]", text))
    valid = sum(ord(ch) > 127 for ch in text) - stray
    if valid <= stray:
        return None
    return re.sub(
        "[\udc80-\udcff]+",
        lambda m: m.group().encode("utf-8", "surrogateescape").decode("cp1252", "replace"),
        text,
    )


def _detect(path: Path, data: bytes) -> str:
    unreadable = f"{path} is not readable text (unknown encoding); re-save it as UTF-8."
    try:
        from charset_normalizer import from_bytes
    except ImportError as exc:
        raise CorpusError(f"{unreadable[:-1]}, or run `pip install charset-normalizer` to read other encodings.") from exc
    try:
        # With no BOM and no NUL bytes the file cannot be UTF-16/32, whatever the guess.
        matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    except Exception as exc:  # noqa: BLE001 - a detector crash means "unreadable", nothing more
        raise CorpusError(unreadable) from exc
    if not matches or matches[0].chaos > _MAX_CHAOS:
        raise CorpusError(unreadable)
    # subtle: cp1250 and cp1252 often tie on Western text, and the detector then
    # prefers cp1250, which turns "crème" into "crčme"; on a tie, take cp1252.
    for match in matches:
        if match.chaos <= matches[0].chaos + 0.01 and "cp1252" in match.could_be_from_charset:
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                break
    return str(matches[0])


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- plain text and Markdown --------------------------------------------------


def _read_txt(path: Path, data: bytes) -> Source:
    return Source(text=_newlines(_decode(path, data)), metadata={})


def _read_markdown(path: Path, data: bytes) -> Source:
    text = _newlines(_decode(path, data))
    metadata, body = _front_matter(path, text)
    return Source(text=_markdown_to_text(body), metadata=metadata)


_FENCE_OPEN = re.compile(r"\A---[ \t]*\n")
_FENCE_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_KEYS = {
    "title": "title",
    "source": "source_url",
    "source_url": "source_url",
    "url": "source_url",
    "date": "date",
    "published": "date",
    "reviewed": "reviewed",
    "reviewed_on": "reviewed",
    "last_reviewed": "reviewed",
    "reviewed_by": "reviewed_by",
    "reviewer": "reviewed_by",
}


def _front_matter(path: Path, text: str) -> tuple[dict[str, str], str]:
    """Split YAML front matter (between leading --- lines) from the body."""
    opening = _FENCE_OPEN.match(text)
    if not opening:
        return {}, text
    fix = "fix the YAML between the --- lines at the top of the file"
    closing = _FENCE_CLOSE.search(text, opening.end())
    if closing is None:
        raise CorpusError(f"{path} starts front matter with --- but never closes it; add a closing --- line or {fix}.")
    try:
        data = yaml.safe_load(text[opening.end() : closing.start()])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 2}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())
        raise CorpusError(f"{path} has malformed front matter ({problem}{where}); {fix}.") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CorpusError(f"{path} has front matter that is not a list of 'key: value' lines; {fix}.")
    metadata: dict[str, str] = {}
    for key, value in data.items():
        name = _KEYS.get(re.sub(r"[\s-]+", "_", str(key).strip().lower()))
        if name is None or value is None or name in metadata:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        metadata[name] = _iso_date(value) if name in ("date", "reviewed") else str(value).strip()
    return {k: v for k, v in metadata.items() if v}, text[closing.end() :]


_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%Y/%m/%d", "%d.%m.%Y")


def _iso_date(value: Any) -> str:
    """A date as YYYY-MM-DD when it can be read without guessing; otherwise as written."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    slashed = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if slashed:  # only when one side is over 12, so day and month cannot be swapped
        a, b, year = (int(g) for g in slashed.groups())
        day, month = (a, b) if a > 12 else (b, a) if b > 12 else (0, 0)
        try:
            return dt.date(year, month, day).isoformat()
        except ValueError:
            pass
    return text


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_BULLET = re.compile(r"^\s*[-*+•]\s+(?:\[[ xX]\]\s+)?(.*)$")
_ORDERED = re.compile(r"^\s*(\d{1,3}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_INLINE = (
    (re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])"), ""),  # images go
    (re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])"), r"\1"),  # links keep their text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),
    (re.compile(r"(`+)(.+?)\1"), r"\2"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
)
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")


def _inline(text: str) -> str:
    # Escaped characters are parked in the private-use area so that "\*" never
    # opens emphasis, then restored.
    text = _ESCAPED.sub(lambda m: chr(0xE000 + ord(m.group(1))), text)
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    text = re.sub("[\ue000-\ue07f]", lambda m: chr(ord(m.group()) - 0xE000), text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _markdown_to_text(markdown: str) -> str:
    """Markdown -> one plain line per paragraph, heading, list item or table row."""
    blocks: list[str] = []
    para: list[str] = []

    def flush() -> None:
        blocks.extend(_unwrap([line for line in map(_inline, para) if line]))
        para.clear()

    # Comments can span lines ("<!-- editor's note ... -->"); drop them before the line loop.
    markdown = re.sub(r"<!--.*?(?:-->|\Z)", "", markdown, flags=re.DOTALL)
    fence = ""
    for line in markdown.split("\n"):
        if fence:
            fence = "" if line.strip().startswith(fence) else fence
            continue
        if m := _FENCE.match(line):
            flush()
            fence = m.group(1)
            continue
        line = _QUOTE.sub("", line)
        if not line.strip() or _LINK_DEF.match(line):
            flush()
        elif (m := _SETEXT.match(line)) and para and not _RULE.match(para[-1]):
            heading = para.pop()
            flush()
            blocks.append(_inline(heading))
        elif _RULE.match(line) or _TABLE_RULE.match(line):
            flush()
        elif m := _HEADING.match(line):
            flush()
            blocks.append(_inline(m.group(1)))
        elif m := _BULLET.match(line):
            flush()
            para.append(m.group(1))
        elif m := _ORDERED.match(line):
            flush()
            para.append(f"{m.group(1)} {m.group(2)}")
        elif line.lstrip().startswith("|"):
            flush()
            blocks.append(" | ".join(c for c in map(_inline, line.strip().strip("|").split("|")) if c))
        else:
            para.append(line.strip())
    flush()
    return "\n\n".join(block for block in blocks if block)


_CONTINUES_AFTER = re.compile(r"(?:[,(&/–—]|\b(?:and|or|but|the|a|an|of|to|in|on|with|for|by|your|if))$")
_SENTENCE_END = ".!?:;\"”’)"
_BLOCK_START = re.compile(r"^(?:\d{1,3}[.)]\s|[-*+•]\s)")


def _unwrap(lines: list[str], width: int = 0) -> list[str]:
    """Join lines that were wrapped inside a paragraph; return one line per paragraph.

    A line continues the previous one when it starts in lower case, when the
    previous one cannot end a sentence ("…and", "…,"), or, with ``width`` (the
    longest line on a PDF page), when the previous line runs near the full
    width without ending a sentence. A short line followed by a capital is a
    heading or a paragraph end.

    subtle: a line that ends a sentence is never joined to a capitalised next
    line. At worst a paragraph is split between two sentences; the other way, a
    heading or a whole paragraph would be glued onto the next one.
    """
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        if not prev or _BLOCK_START.match(line):
            out.append(line)
        elif re.search(r"[A-Za-z]-$", prev) and line[0].islower():
            out[-1] = prev[:-1] + line  # "inflam-" + "mation"
        elif (
            line[0].islower()
            or line[0] in ",;:)"
            or _CONTINUES_AFTER.search(prev)
            or (width and len(prev) >= 0.75 * width and prev[-1] not in _SENTENCE_END)
        ):
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return out


# -- HTML -----------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.I)


def _read_html(path: Path, data: bytes) -> Source:
    trafilatura = _require("trafilatura", "trafilatura lxml_html_clean", path)
    declared = _META_CHARSET.search(data[:4096])
    page = _decode(path, data, declared.group(1).decode("ascii") if declared else None)
    try:
        doc = trafilatura.bare_extraction(
            page,
            include_formatting=True,  # headings and lists come back as Markdown
            include_comments=False,
            include_images=False,
            include_links=False,
            include_tables=True,
            favor_precision=True,  # short pages otherwise fall back to the whole page, menus included
            with_metadata=True,
            # Only dates the page declares; a guess from "© 2024" is worse than none.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad file
        raise CorpusError(f"{path} could not be parsed as HTML ({_brief(exc)}); save the page again from the browser.") from exc
    text = _markdown_to_text(_newlines(doc.text or "")) if doc is not None else ""
    if not text:
        raise CorpusError(
            f"{path} has no article text that could be found; save the full article page, or paste its text into a .txt file."
        )
    saved_from = _SAVED_FROM.search(page[:2000])
    metadata = {
        "title": doc.title or "",
        "source_url": doc.url or (saved_from.group(1) if saved_from else ""),
        "date": _iso_date(doc.date) if doc.date else "",
    }
    return Source(text=text, metadata={k: v.strip() for k, v in metadata.items() if v and v.strip()})


# -- PDF ------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "\u00ad": ""})
_PDF_BULLET = re.compile(r"^[•●▪◦‣∙·]\s*")
_BULLET_MARK = "• "  # kept through _unwrap so a bullet starts a block, then removed


class _Collected(logging.Handler):
    """What a library logs while one file is read: kept for our own message, not printed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def _library_log(name: str) -> Iterator[_Collected]:
    logger = logging.getLogger(name)
    collected, propagate = _Collected(), logger.propagate
    logger.addHandler(collected)
    logger.propagate = False
    try:
        yield collected
    finally:
        logger.removeHandler(collected)
        logger.propagate = propagate


def _read_pdf(path: Path, data: bytes) -> Source:
    with _library_log("pypdf") as said:
        try:
            return _parse_pdf(path, data)
        except CorpusError as exc:
            if not said.lines:
                raise
            detail = "; ".join(dict.fromkeys(said.lines))[:200]
            raise CorpusError(f"{exc} (pypdf: {detail})") from exc.__cause__


def _parse_pdf(path: Path, data: bytes) -> Source:
    pypdf = _require("pypdf", "pypdf", path)
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
    pages = tuple(_pdf_page_text(raw) for raw in raw_pages)
    if not any(pages):
        raise CorpusError(
            f"{path} has no text layer (scanned PDF?); export it from the original document with text, or run OCR on it."
        )
    # Word and friends fill the title with the file name; that is not a title.
    if re.search(r"^microsoft \w+ - |\.(?:docx?|pdf|pptx?)$", title, re.I):
        title = ""
    return Source(text="\n\n".join(p for p in pages if p), metadata={"title": title} if title else {}, pages=pages)


def _pdf_page_text(raw: str) -> str:
    lines = []
    for line in _newlines(raw.translate(_LIGATURES)).split("\n"):
        line = _PDF_BULLET.sub(_BULLET_MARK, re.sub(r"\s+", " ", line).strip())
        if line and line != _BULLET_MARK.strip() and not _PAGE_NUMBER.match(line):
            lines.append(line)
    width = max((len(line) for line in lines), default=0)
    return "\n\n".join(line.removeprefix(_BULLET_MARK) for line in _unwrap(lines, width=width))


# -- DOCX -----------------------------------------------------------------------


def _check_unpacked_size(path: Path, data: bytes) -> None:
    """Refuse a zip (a .docx) that would unpack to more than MAX_UNPACKED_BYTES: a decompression bomb."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(max(0, info.file_size) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # python-docx says it is not a readable Word document
    if unpacked > MAX_UNPACKED_BYTES:
        raise CorpusError(
            f"{path} unpacks to {_size(unpacked)}, over the {_size(MAX_UNPACKED_BYTES)} limit for a Word document; "
            "split it into smaller articles."
        )


def _read_docx(path: Path, data: bytes) -> Source:
    docx = _require("docx", "python-docx", path)
    _check_unpacked_size(path, data)
    try:
        document = docx.Document(io.BytesIO(data))
        numbers = _ListNumbers(document)
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if hasattr(item, "rows"):  # a table: one line per row
                for row in item.rows:
                    cells = [" ".join(c.text.split()) for c in row.cells]
                    # merged cells repeat in python-docx; keep each once
                    cells = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                    blocks.append(" | ".join(cells))
            elif text := " ".join(item.text.split()):
                blocks.append(numbers.label(item) + text)
        props = document.core_properties
        metadata = {"title": (props.title or "").strip(), "date": _iso_date(props.created) if props.created else ""}
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and python-docx all raise their own
        raise CorpusError(f"{path} is not a readable Word document (damaged, or not .docx); save it again as .docx.") from exc
    text = "\n\n".join(block for block in blocks if block)
    if not text:
        raise CorpusError(f"{path} has no text; add the article's text or remove the file.")
    return Source(text=text, metadata={k: v for k, v in metadata.items() if v})


class _ListNumbers:
    """Word's automatic numbers ("7." before "Fever or Chills"), which python-docx leaves out of .text.

    Only decimal levels are rendered; bullets and letters get no label. Counting
    follows Word: an item restarts the counts of the levels below it.
    """

    def __init__(self, document: Any) -> None:
        try:
            self._root = document.part.numbering_part.element
        except Exception:  # noqa: BLE001 - NotImplementedError when the file has no numbering part
            self._root = None
        self._counts: dict[tuple[str, int], int] = {}

    def label(self, paragraph: Any) -> str:
        try:
            return self._label(paragraph)
        except Exception:  # noqa: BLE001 - odd numbering must not cost the paragraph its text
            return ""

    def _label(self, paragraph: Any) -> str:
        num_id, level = self._num_pr(paragraph)
        if self._root is None or num_id in (None, "0"):
            return ""
        abstract = self._root.xpath(f'./w:num[@w:numId="{num_id}"]/w:abstractNumId/@w:val')
        if not abstract:
            return ""

        def attr(lvl: int, path: str) -> str | None:
            found = self._root.xpath(f'./w:abstractNum[@w:abstractNumId="{abstract[0]}"]/w:lvl[@w:ilvl="{lvl}"]/{path}')
            return str(found[0]) if found else None

        if attr(level, "w:numFmt/@w:val") != "decimal":
            return ""
        start = int(attr(level, "w:start/@w:val") or 1)
        self._counts[(num_id, level)] = self._counts.get((num_id, level), start - 1) + 1
        for key in [k for k in self._counts if k[0] == num_id and k[1] > level]:
            del self._counts[key]
        template = attr(level, "w:lvlText/@w:val") or f"%{level + 1}."
        label = re.sub(r"%(\d)", lambda m: str(self._counts.get((num_id, int(m.group(1)) - 1), 1)), template)
        return f"{label} " if label.strip() else ""

    @staticmethod
    def _num_pr(paragraph: Any) -> tuple[str | None, int]:
        # Direct numbering wins; otherwise the style (or a style it is based on) may carry it.
        elements = [paragraph._p]
        style = paragraph.style
        while style is not None:
            elements.append(style.element)
            style = style.base_style
        for element in elements:
            num_id = element.xpath("./w:pPr/w:numPr/w:numId/@w:val")
            if num_id:
                level = element.xpath("./w:pPr/w:numPr/w:ilvl/@w:val") or ["0"]
                return num_id[0], int(level[0])
        return None, 0


# -- plumbing -------------------------------------------------------------------


def _brief(exc: BaseException) -> str:
    """A library's exception as one short line, for a one-line CorpusError."""
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _require(module: str, packages: str, path: Path) -> Any:
    """Import an optional dependency, or explain how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CorpusError(
            f"Reading {path.suffix} files such as {path} needs {packages.split()[0]}; run `pip install {packages}`."
        ) from exc


_READERS: dict[str, Callable[[Path, bytes], Source]] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
