"""Web pages (.html, .htm): the article only, without menus, banners and footers.

trafilatura finds the article and hands it back as Markdown, which the
Markdown reader turns into plain text. trafilatura is imported here and
nowhere else, lazily.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.corpus.formats.common import Source, brief, require
from assistant.corpus.formats.encoding import decode, newlines
from assistant.corpus.formats.markdown import markdown_to_text
from assistant.corpus.formats.metadata import iso_date
from assistant.errors import CorpusError

__all__ = ["read_html"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.I)


def read_html(path: Path, data: bytes) -> Source:
    """The article's text, with the title, address and date the page declares.

    ``source_url`` falls back to the "saved from url" comment a browser writes
    when it saves a page. Raises CorpusError when no article text is found.
    """
    trafilatura = require("trafilatura", "trafilatura lxml_html_clean", path)
    declared = _META_CHARSET.search(data[:4096])
    page = decode(path, data, declared.group(1).decode("ascii") if declared else None)
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
        raise CorpusError(f"{path} could not be parsed as HTML ({brief(exc)}); save the page again from the browser.") from exc
    text = markdown_to_text(newlines(doc.text or ""), path) if doc is not None else ""
    if not text:
        raise CorpusError(
            f"{path} has no article text that could be found; save the full article page, or paste its text into a .txt file."
        )
    saved_from = _SAVED_FROM.search(page[:2000])
    metadata = {
        "title": doc.title or "",
        "source_url": doc.url or (saved_from.group(1) if saved_from else ""),
        "date": iso_date(doc.date) if doc.date else "",
    }
    return Source(text=text, metadata={k: v.strip() for k, v in metadata.items() if v and v.strip()})
