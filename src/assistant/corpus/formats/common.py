"""What every format reader shares: the ``Source`` it returns and the plumbing for its errors.

A reader is a function ``(path, data) -> Source`` that raises ``CorpusError``
with a one-line message naming the file and saying how to fix it. The helpers
here keep those messages short (``brief``, ``human_size``), turn a missing
optional library into an install hint (``require``), and keep what a library
logs out of the user's terminal (``library_log``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import CorpusError

__all__ = ["Collected", "Source", "brief", "human_size", "library_log", "require"]


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


def brief(exc: BaseException) -> str:
    """A library's exception as one short line, for a one-line CorpusError."""
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def human_size(n: int) -> str:
    """A byte count as a user reads it: "190 bytes", "5.0 MB"."""
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.1f} kB" if n >= 1000 else f"{n} bytes"


def require(module: str, packages: str, path: Path) -> Any:
    """Import an optional dependency, or raise CorpusError saying how to install it.

    ``packages`` is what to pip install, the first one named in the message
    (``require("trafilatura", "trafilatura lxml_html_clean", path)``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CorpusError(
            f"Reading {path.suffix} files such as {path} needs {packages.split()[0]}; run `pip install {packages}`."
        ) from exc


class Collected(logging.Handler):
    """What a library logs while one file is read: kept for our own message, not printed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def library_log(name: str) -> Iterator[Collected]:
    """Collect the warnings of logger ``name`` (and stop them propagating) for the ``with`` block."""
    logger = logging.getLogger(name)
    collected, propagate = Collected(), logger.propagate
    logger.addHandler(collected)
    logger.propagate = False
    try:
        yield collected
    finally:
        logger.removeHandler(collected)
        logger.propagate = propagate
