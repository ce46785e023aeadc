"""Document -> Chunks: section-aware, with stable ids and character offsets.

A section is a heading and the paragraphs under it. A numbered heading
("7. Fever or Chills") sits under the last top-level heading, so its section
reads "How to Identify Microneedling Bad Reactions: Key Symptoms to Watch For ›
7. Fever or Chills". Sections longer than ``chunk_size`` are split on
paragraph, then sentence boundaries by langchain's recursive splitter.
Every chunk satisfies ``document.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.corpus.cleaning import heading_level, is_heading
from assistant.schema import Chunk, Document
from assistant.text import sentences, words

INTRO = "Introduction"
SEPARATOR = " › "


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    text: str


def _blocks(text: str) -> Iterator[_Block]:
    for match in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text):
        yield _Block(match.start(), match.end(), match.group())


def _sections(doc: Document) -> Iterator[tuple[str, list[_Block]]]:
    parent, child = "", ""
    body: list[_Block] = []
    for block in _blocks(doc.text):
        if is_heading(block.text):
            if body:
                yield _section_name(parent, child), body
                body = []
            if heading_level(block.text) == 1:
                parent, child = block.text, ""
            else:
                child = block.text
        else:
            body.append(block)
    if body:
        yield _section_name(parent, child), body


def _section_name(parent: str, child: str) -> str:
    if parent and child:
        return f"{parent}{SEPARATOR}{child}"
    return child or parent or INTRO


def chunk_id(doc_id: str, start: int, text: str) -> str:
    """Stable id from the document, the position and the content."""
    digest = hashlib.sha1(f"{doc_id}\x1f{start}\x1f{text}".encode()).hexdigest()
    return digest[:20]


def chunk_document(doc: Document, chunk_size: int = 700) -> list[Chunk]:
    """Split one document into chunks that never cross a section boundary."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter  # slow to import; only when chunking

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=0,
        separators=["\n\n", "\n", r"(?<=[.!?])\s+", " "],
        is_separator_regex=True,
        keep_separator="end",  # merged pieces stay exact substrings of the section
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    for section, body in _sections(doc):
        start, end = body[0].start, body[-1].end
        span = doc.text[start:end]
        cursor = 0
        for piece in splitter.split_text(span):
            # subtle: the splitter drops separators, so locate each piece in the
            # span to recover exact offsets instead of trusting its arithmetic.
            at = span.find(piece, cursor)
            if at < 0:  # pragma: no cover - the splitter only removes separators
                raise RuntimeError(f"chunk not found in section {section!r} of {doc.doc_id}")
            cursor = at + len(piece)
            abs_start = start + at
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.doc_id, abs_start, piece),
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=section,
                    text=piece,
                    start=abs_start,
                    end=abs_start + len(piece),
                    page=page_of(piece, doc.pages),
                )
            )
    return chunks


def page_of(text: str, pages: tuple[str, ...]) -> int | None:
    """The 1-based page of a PDF on which a passage starts (None for other formats).

    Matched on the passage's first words, because cleaning may re-join lines
    differently from the page's own text.
    """
    if not pages:
        return None
    head = " ".join(words(text)[:8])
    for number, page in enumerate(pages, start=1):
        if head and head in " ".join(words(page)):
            return number
    return None


def chunk_documents(docs: list[Document], chunk_size: int = 700) -> list[Chunk]:
    return [c for doc in docs for c in chunk_document(doc, chunk_size)]


def embedding_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see: the section heading gives short passages their topic."""
    return f"{chunk.section}\n{chunk.text}"


def sentence_texts(chunk: Chunk) -> list[str]:
    """The sentences of a passage, in the order ingest embeds them."""
    return [text for _, _, text in sentences(chunk.text)]
