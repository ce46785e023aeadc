"""Word documents (.docx): paragraphs, tables row by row, and Word's own list numbers.

python-docx is imported here and nowhere else, lazily. A .docx is a zip, so
its unpacked size is checked before it is parsed (a decompression bomb).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from assistant.corpus.formats.common import Source, human_size, require
from assistant.corpus.formats.metadata import iso_date
from assistant.errors import CorpusError

__all__ = ["MAX_UNPACKED_BYTES", "read_docx"]

MAX_UNPACKED_BYTES = 50_000_000  # what a .docx (a zip) may unpack to, checked before parsing it


def read_docx(path: Path, data: bytes) -> Source:
    """One block per paragraph or table row; the title and creation date from the file's properties.

    Raises CorpusError for a file that is not a readable .docx, unpacks to more
    than MAX_UNPACKED_BYTES, or has no text.
    """
    docx = require("docx", "python-docx", path)
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
        metadata = {"title": (props.title or "").strip(), "date": iso_date(props.created) if props.created else ""}
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and python-docx all raise their own
        raise CorpusError(f"{path} is not a readable Word document (damaged, or not .docx); save it again as .docx.") from exc
    text = "\n\n".join(block for block in blocks if block)
    if not text:
        raise CorpusError(f"{path} has no text; add the article's text or remove the file.")
    return Source(text=text, metadata={k: v for k, v in metadata.items() if v})


def _check_unpacked_size(path: Path, data: bytes) -> None:
    """Refuse a zip (a .docx) that would unpack to more than MAX_UNPACKED_BYTES: a decompression bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(max(0, info.file_size) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # python-docx says it is not a readable Word document
    if unpacked > MAX_UNPACKED_BYTES:
        raise CorpusError(
            f"{path} unpacks to {human_size(unpacked)}, over the {human_size(MAX_UNPACKED_BYTES)} limit for a Word "
            "document; split it into smaller articles."
        )


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
