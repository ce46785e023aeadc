"""What a file says about itself: YAML front matter, and dates in the one form we store.

>>> front_matter(Path("a.md"), "---\\ntitle: Redness\\nreviewed: 5 March 2025\\n---\\nBody\\n")  # doctest: +SKIP
({'title': 'Redness', 'reviewed': '2025-03-05'}, '\\nBody\\n')
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import CorpusError

__all__ = ["front_matter", "iso_date"]

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


def front_matter(path: Path, text: str) -> tuple[dict[str, str], str]:
    """Split YAML front matter (between leading --- lines) from the body.

    Returns (metadata, body): metadata with the keys of ``Source.metadata``
    that the file sets (synonyms such as ``url`` or ``Reviewed-By`` mapped,
    unknown keys ignored), and the text after the closing line. Raises
    CorpusError for front matter that is unclosed, malformed or not a mapping.
    """
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
        metadata[name] = iso_date(value) if name in ("date", "reviewed") else str(value).strip()
    return {k: v for k, v in metadata.items() if v}, text[closing.end() :]


_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%Y/%m/%d", "%d.%m.%Y")


def iso_date(value: Any) -> str:
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
