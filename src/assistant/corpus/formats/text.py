"""Plain text (.txt): decoded, line endings normalised, otherwise exactly as written.

Cleaning (``corpus.cleaning``) does the rest; a .txt file saved from a browser
already has one paragraph or heading per line.
"""

from __future__ import annotations

from pathlib import Path

from assistant.corpus.formats.common import Source
from assistant.corpus.formats.encoding import decode, newlines

__all__ = ["read_txt"]


def read_txt(path: Path, data: bytes) -> Source:
    """The file's text with ``\\n`` line endings and no metadata."""
    return Source(text=newlines(decode(path, data)), metadata={})
