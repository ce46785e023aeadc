"""Read source articles from a corpus folder, clean them, return Documents.

Cleaning works on lines, because web text saved from a browser keeps one
paragraph or heading per line. It drops boilerplate named in
``data/cleaning.yaml`` (newsletter blocks, adverts, date stamps, reference
lists), repeated titles, and headings left with no text under them, and keeps
every sentence of guidance. The cleaned text is one block per paragraph or
heading, blocks separated by a blank line; chunk offsets refer to it.

>>> doc = clean("Pimples After Microneedling\\n\\n• 15/12/2024 08:45\\nThey are normal.\\n", "a.txt")
>>> doc.title, doc.text
('Pimples After Microneedling', 'They are normal.')
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from assistant.config import DATA_DIR, data_file
from assistant.errors import CorpusError
from assistant.corpus.formats import SUPPORTED, read_source
from assistant.corpus.formats.unwrap import unwrap
from assistant.schema import Document
from assistant.text import fold

_NUMBERED = re.compile(r"^\d{1,2}[.)]\s+\S")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CleaningRules:
    drop_lines: tuple[re.Pattern[str], ...]
    references_heading: re.Pattern[str]
    reference_line: re.Pattern[str]
    lint_suspicious: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_file(cls, path: Path | None = None) -> CleaningRules:
        path = path or DATA_DIR / "cleaning.yaml"
        with data_file(path, "Cleaning rules", "Fix the file or restore it from the repository.") as data:
            return cls(
                drop_lines=tuple(re.compile(p, re.IGNORECASE) for p in data["drop_lines"]),
                references_heading=re.compile(data["references_heading"], re.IGNORECASE),
                reference_line=re.compile(data["reference_line"], re.IGNORECASE),
                lint_suspicious=tuple(re.compile(p, re.IGNORECASE) for p in data.get("lint_suspicious", [])),
            )


@lru_cache(maxsize=1)
def default_rules() -> CleaningRules:
    return CleaningRules.from_file()


# A document's first line is its title when it has at most this many words and no final full stop.
MAX_TITLE_WORDS = 24


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not loaded, and why (shown to the content editor)."""

    path: str
    reason: str


def is_heading(line: str, max_words: int = 14) -> bool:
    """A short line with no sentence-final full stop: a title or a section heading."""
    line = line.strip()
    if not line or len(line) > 10 * max_words or len(line.split()) > max_words:
        return False
    if line[-1] in ".,;:!\"”’'":
        return False
    return line[0].isupper() or line[0].isdigit()


def heading_level(line: str) -> int:
    """1 for a top-level heading, 2 for a numbered item ("7. Fever or Chills")."""
    return 2 if _NUMBERED.match(line.strip()) else 1


def _lines(raw: str) -> list[str]:
    """Normalise line endings and join lines that were hard-wrapped mid-sentence."""
    raw = _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).replace("\ufeff", "")
    lines = (_MD_HEADING.sub("", re.sub(r"[ \t\u00a0]+", " ", line).strip()) for line in raw.split("\n"))
    # subtle: wrapped=False, because here a line is a paragraph (web text saved from
    # a browser) unless it plainly continues a sentence: the previous line has no
    # closing punctuation and this one starts in lower case.
    return unwrap(lines, wrapped=False)


def clean(
    raw: str,
    doc_id: str,
    source: str = "",
    rules: CleaningRules | None = None,
    metadata: dict[str, str] | None = None,
    pages: tuple[str, ...] = (),
) -> Document:
    """Clean one article's raw text into a Document (title detected, boilerplate removed).

    A ``title`` in ``metadata`` (front matter, HTML or PDF info) wins over detection.
    """
    rules = rules or default_rules()
    metadata = dict(metadata or {})
    lines = _lines(raw)
    lines = [line for line in lines if not any(p.search(line) for p in rules.drop_lines)]
    lines = _drop_references(lines, rules)

    # subtle: a first line may be a long title ("Signs of a Bad Reaction ..., and When to See a
    # Professional", 15 words); a shorter line after it would be a section heading, not the title.
    first = lines[0] if lines and is_heading(lines[0], max_words=MAX_TITLE_WORDS) else None
    title = metadata.get("title") or first or next((line for line in lines[:3] if is_heading(line)), None)
    if title is not None and lines and _key(lines[0]) == _key(title):
        lines = lines[1:]
    title = title or next((line for line in lines if is_heading(line)), None) or _title_from_name(doc_id)

    kept: list[str] = []
    seen_headings: set[str] = {_key(title)}
    for line in lines:
        if is_heading(line):
            # Repeated titles and repeated short banner lines are page furniture.
            if _key(line) in seen_headings and not _NUMBERED.match(line):
                continue
            seen_headings.add(_key(line))
        kept.append(line)
    kept = _drop_empty_sections(kept)
    metadata.pop("title", None)
    return Document(doc_id=doc_id, title=title, text="\n\n".join(kept), source=source, metadata=metadata,
                    pages=pages)


def _key(line: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold(line))


def _drop_references(lines: list[str], rules: CleaningRules) -> list[str]:
    out: list[str] = []
    in_refs = False
    for line in lines:
        if rules.references_heading.match(line):
            in_refs = True
            continue
        if in_refs and rules.reference_line.search(line):
            continue
        in_refs = False
        out.append(line)
    return out


def _drop_empty_sections(lines: list[str]) -> list[str]:
    """Drop headings with no text after them at the end (adverts, banners).

    A heading followed directly by a deeper heading ("FAQs" then "1. How many
    sessions?") is kept: it is the parent of what follows.
    """
    while lines and is_heading(lines[-1]):
        lines = lines[:-1]
    return lines


def _title_from_name(doc_id: str) -> str:
    stem = Path(doc_id).stem
    return re.sub(r"[_\-]+", " ", stem).strip().capitalize() or "Untitled"


def load_corpus(folder: Path, rules: CleaningRules | None = None) -> tuple[list[Document], list[Skipped]]:
    """Load every supported file below ``folder``, in a stable order.

    Files that cannot be used are returned as ``Skipped`` with a reason, so one
    bad file never stops the rest: unsupported, empty, binary, undecodable,
    too large, nothing left after cleaning, or the same content as a file
    already loaded. Raises CorpusError when nothing is usable.
    """
    if not folder.is_dir():
        raise CorpusError(
            f"Corpus folder {folder} does not exist; create it and put articles in it "
            f"({', '.join(SUPPORTED)})."
        )
    docs: list[Document] = []
    seen: dict[str, str] = {}
    paths, skipped = _files(folder)
    for path in paths:
        rel = _rel(path, folder)
        try:
            src = read_source(path)
        except CorpusError as exc:
            skipped.append(Skipped(rel, printable_name(_without_path(str(exc), path))))
            continue
        doc = clean(src.text, rel, source=str(path), rules=rules, metadata=src.metadata, pages=src.pages)
        if not doc.text.strip():
            skipped.append(Skipped(rel, "nothing left after removing boilerplate"))
            continue
        key = hashlib.sha256(fold(doc.text).encode()).hexdigest()
        if key in seen:
            skipped.append(Skipped(rel, f"same content as {seen[key]}; remove one of the two"))
            continue
        seen[key] = rel
        docs.append(doc)
    if not docs:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files"
        raise CorpusError(f"No usable articles in {folder} ({reasons}). Add articles and run ingest again.")
    return docs, skipped


def _without_path(message: str, path: Path) -> str:
    """Loader messages start with the file's path; the Skipped record already names it."""
    for prefix in (str(path), path.name):
        if message.startswith(prefix):
            return message[len(prefix):].lstrip(": ")
    return message


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable_name(name: str) -> str:
    r"""A file name safe to print and to store: bytes that are not UTF-8 and control or
    direction characters (an ANSI escape would clear the terminal) become visible escapes.

    >>> printable_name("evil\x1b[2J.txt"), printable_name("caf\udce9.txt")
    ('evil\\x1b[2J.txt', 'caf\\xe9.txt')
    """
    try:
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no undecodable byte made ("\ud800")
        name = name.encode("utf-8", "backslashreplace").decode("ascii")
    return _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), name)


def _files(folder: Path) -> tuple[list[Path], list[Skipped]]:
    """Every visible file below ``folder``, and the links that were not followed, each with why.

    A link is followed only to a file inside the corpus folder: a link out of it
    (``passwd.txt -> /etc/passwd``) would put that file in answers.
    """
    root = folder.resolve()
    found: list[Path] = []
    skipped: list[Skipped] = []

    def walk(directory: Path) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(_rel(directory, folder), f"folder cannot be read ({exc.strerror or exc})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                reason = _link_problem(path, root)
                if reason:
                    skipped.append(Skipped(_rel(path, folder), reason))
                    continue
            if entry.is_dir(follow_symlinks=False):
                walk(path)
            elif entry.is_file():
                found.append(path)

    walk(folder)
    return found, skipped


def _link_problem(path: Path, root: Path) -> str | None:
    """Why a symbolic link in the corpus is not followed, or None for a link to a file inside it."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return f"a link to {printable_name(os.readlink(path))}, which does not exist; fix or remove the link"
    except (RuntimeError, OSError):  # ELOOP, or Python's own loop detection
        return "a link that loops back on itself; remove it"
    if not target.is_relative_to(root):
        return f"a link to {printable_name(str(target))}, outside the corpus folder; not followed (copy the file in instead)"
    if target.is_dir():
        return "a link to a folder; not followed (put the articles in the corpus folder itself)"
    return None


def _rel(path: Path, folder: Path) -> str:
    return printable_name(path.relative_to(folder).as_posix())


def is_stale(meta: Mapping[str, str], max_age_days: int, today: date | None = None) -> bool:
    """True when the document says when it was reviewed and that is too long ago."""
    try:
        reviewed = date.fromisoformat(str(meta.get("reviewed", ""))[:10])
    except ValueError:
        return False
    return ((today or date.today()) - reviewed).days > max_age_days
