"""``assistant corpus lint``: what a content editor should look at before ingesting.

Reports, per document: lines that look like boilerplate but survived cleaning,
passages that nearly repeat a passage of another document, very short
sections, documents with no headings, reviews older than the configured
age, and sentences that talk a reader out of care. Reads files only; loads no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.corpus.chunking import INTRO, chunk_documents
from assistant.config import Settings
from assistant.corpus.cleaning import CleaningRules, default_rules, is_heading, is_stale, load_corpus
from assistant.safety.notices import default_texts
from assistant.schema import Chunk, Document
from assistant.text import overlapping

SHORT_SECTION_CHARS = 80
NEAR_DUPLICATE_SHARE = 0.5


@dataclass(frozen=True)
class Finding:
    doc: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.doc}: {self.kind}: {self.detail}"


def lint(settings: Settings, rules: CleaningRules | None = None) -> list[Finding]:
    rules = rules or default_rules()
    docs, skipped = load_corpus(settings.corpus_dir, rules)
    findings = [Finding(s.path, "skipped", s.reason) for s in skipped]
    chunks = chunk_documents(docs, settings.chunk_size)
    findings += care_discouraging(docs)
    for doc in docs:
        for line in doc.text.split("\n\n"):
            if any(p.search(line) for p in rules.lint_suspicious):
                findings.append(Finding(doc.doc_id, "possible boilerplate", _short(line)))
        if not any(is_heading(b) for b in doc.text.split("\n\n")):
            findings.append(Finding(doc.doc_id, "no headings", "passages will carry no section names; add headings"))
        if is_stale(doc.metadata, settings.review_max_age_days):
            findings.append(Finding(doc.doc_id, "review out of date",
                                    f"last reviewed {doc.metadata.get('reviewed')}; older than {settings.review_max_age_days} days"))
    findings += _short_sections(chunks)
    findings += _near_duplicates(chunks)
    return findings


def care_discouraging(docs: Sequence[Document]) -> list[Finding]:
    """Sentences that talk a reader out of care (safety.yaml's ``discouraging``): never quoted,
    and the editor should remove or reword them."""
    texts = default_texts()
    return [Finding(doc.doc_id, "discourages care", f"{_short(sentence)!r} is never quoted; remove or reword it")
            for doc in docs for sentence in texts.discouraging_sentences(doc.text)]


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short_sections(chunks: list[Chunk]) -> list[Finding]:
    sizes: dict[tuple[str, str], int] = {}
    for c in chunks:
        sizes[(c.doc_id, c.section)] = sizes.get((c.doc_id, c.section), 0) + len(c.text)
    return [
        Finding(doc, "very short section", f"{section!r} has {size} characters")
        for (doc, section), size in sizes.items()
        if size < SHORT_SECTION_CHARS and section != INTRO
    ]


def _near_duplicates(chunks: list[Chunk]) -> list[Finding]:
    """Passages of different documents sharing most of their sentences word for word."""
    findings = []
    for i, j, shared in overlapping([c.text for c in chunks], NEAR_DUPLICATE_SHARE):
        a, b = chunks[i], chunks[j]
        if a.doc_id != b.doc_id:
            findings.append(Finding(b.doc_id, "near-duplicate passage",
                                    f"{b.section!r} repeats {a.doc_id} {a.section!r} ({shared:.0%} of sentences)"))
    return findings
