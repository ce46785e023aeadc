"""Bytes to text: byte-order marks, UTF-8, a declared charset, then a detected one.

charset_normalizer is imported here and nowhere else, lazily, and only for a
file that is neither UTF-8 nor declares its charset.

>>> decode(Path("a.txt"), "Café".encode("cp1252"))  # doctest: +SKIP
'Café'
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from assistant.errors import CorpusError

__all__ = ["decode", "newlines"]

_MAX_CHAOS = 0.1  # charset_normalizer "mess" ratio above which a guess is not trusted
_CONTROL = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f]")  # never in text; \x1b (ESC) is, in ANSI logs
_BINARY = "{path} holds binary data, not text; save the article as .txt, .md, .pdf or .docx."


def decode(path: Path, data: bytes, declared: str | None = None) -> str:
    """Bytes -> str: a BOM, then UTF-8, then ``declared`` (an HTML meta charset), then a detected one.

    Raises CorpusError for binary data or bytes no encoding reads sensibly.
    """
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data.decode("utf-8-sig")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")  # Notepad's "Unicode"; the BOM explains the NUL bytes
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not readable text (bad byte at {exc.start}); re-save it as UTF-8.") from exc
    if b"\x00" in data:
        raise CorpusError(_BINARY.format(path=path))
    if len(_CONTROL.findall(data[:65536])) > 0.05 * min(len(data), 65536):
        raise CorpusError(_BINARY.format(path=path))
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


def newlines(text: str) -> str:
    """Windows and old Mac line endings as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
