"""The HTML each chat message shows, and the article page: pure functions, no gradio.

Safety of the markup: every string that comes from a user or a document is
HTML-escaped here before it becomes part of a message; Gradio's sanitizer is a
second line of defence, not the first. Each message is one line of HTML with
no blank line in it, so Gradio's Markdown pass treats it as a single HTML block
and never re-interprets ``*``, ``_`` or indentation in the escaped text.

Size of a message: Gradio sends the whole chat history again with every update,
so an answer carries only what a patient reads first (each source's quoted
sentences; its whole passage behind "Show the whole passage"). The whole
article is a separate page, ``article/<doc id>`` (``render_article_page``),
opened from a link only when asked for.

>>> render_user("<b>hi</b>")
'<div class="mn-user">&lt;b&gt;hi&lt;/b&gt;</div>'
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from assistant.answering import markers
from assistant.corpus.cleaning import is_heading
from assistant.guards import MAX_MESSAGE_CHARS
from assistant.safety.notices import default_texts
from assistant.schema import Answer, Citation, Document
from assistant.text import sentences

STATIC = Path(__file__).parent / "static"
# The chat page and the article pages share one style sheet (ui/static/chat.css); the
# article page inlines it because its CSP lets it load nothing.
CSS = (STATIC / "chat.css").read_text(encoding="utf-8")

DEGRADED_STATUS = ("The knowledge base is unavailable: answers show escalation notices only, "
                   "until the operator fixes the index.")
TIER_LABELS = {"emergency": "Emergency: get help now", "urgent": "Urgent: get checked by a professional today"}
# Where the chat links an article: relative, so it works behind a root path (serving.ARTICLE_ROUTE).
ARTICLE_HREF = "article/{doc}"


def esc(text: str) -> str:
    """Escape for HTML text and attributes; newlines become <br> so no blank line reaches Markdown."""
    return escape(str(text), quote=True).replace("\r", "").replace("\n", "<br>")


def render_user(text: str) -> str:
    return f'<div class="mn-user">{esc(text)}</div>'


def withheld_spans(passage: str) -> list[tuple[int, int]]:
    """Where ``passage`` says something that talks the reader out of care (safety.yaml's
    ``discouraging``): such a sentence is never shown, not even inside a cited passage."""
    texts = default_texts()
    return [(start, end) for start, end, s in sentences(passage) if texts.discourages_care(s)]


def highlight(passage: str, quoted: Sequence[str]) -> str:
    """The passage, escaped, with each quoted sentence wrapped in <mark>, and any sentence that
    discourages care replaced by a note saying it is withheld."""
    spans: list[tuple[int, int, bool]] = [(a, b, True) for a, b in withheld_spans(passage)]
    for sentence in quoted:
        at = passage.find(sentence) if sentence else -1
        if at >= 0:
            spans.append((at, at + len(sentence), False))
    out, pos = [], 0
    for start, end, withheld in sorted(spans, key=lambda span: (span[0], not span[2])):
        if start < pos:  # overlapping spans: the earlier one already covers it
            start = pos
        if start >= end:
            continue
        piece = f'<span class="mn-withheld">{esc(default_texts().withheld)}</span>' if withheld \
            else f"<mark>{esc(passage[start:end])}</mark>"
        out += [esc(passage[pos:start]), piece]
        pos = end
    out.append(esc(passage[pos:]))
    return "".join(out)


def link_markers(escaped: str, prefix: str, numbers: set[int]) -> str:
    """Turn [n] (and [n, m]) in escaped text into links to source n of this message."""

    def link(match: re.Match[str]) -> str:
        cited = markers.numbers(match.group(1))
        if not all(n in numbers for n in cited):
            return match.group(0)  # a number with no source under it is left as plain text
        return "".join(f'<a class="mn-cite" href="#{prefix}-src-{n}" title="Show source {n}">[{n}]</a>' for n in cited)

    return markers.MARKER.sub(link, escaped)


def render_body(text: str, prefix: str, numbers: set[int]) -> str:
    """The answer, escaped, with its [n] markers linked to the sources below."""
    return f'<div class="mn-body"><p>{link_markers(esc(" ".join(text.split())), prefix, numbers)}</p></div>'


def render_notice(level: str, notice: str | None, signals: Sequence[str] = (), announce: bool = True) -> str:
    """The escalation notice for a tier, or "" when there is none. Always rendered first."""
    if not notice or level not in TIER_LABELS:
        return ""
    # role=alert only on the complete answer, so a screen reader announces it once, not once per update.
    role = ' role="alert"' if announce else ""
    why = f'<p class="mn-why"><strong>Why:</strong> {esc("; ".join(signals))}</p>' if signals else ""
    return (
        f'<div class="mn-notice mn-notice-{level}"{role}>'
        f'<p class="mn-notice-head">{esc(TIER_LABELS[level])}</p><p class="mn-notice-text">{esc(notice)}</p>{why}</div>'
    )


def render_document(text: str) -> str:
    """A whole cleaned article: one paragraph per block, headings in bold; escaped, and any
    sentence that discourages care withheld, as in a cited passage."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return "".join(
        f'<p class="mn-doc-h"><strong>{highlight(b, ())}</strong></p>' if is_heading(b) else f"<p>{highlight(b, ())}</p>"
        for b in blocks
    )


def render_article_page(doc: Document, disclaimer: str) -> str:
    """The page behind "Read the whole article": a complete HTML document, everything escaped.

    It runs no script and loads nothing (the server also sends a CSP that forbids both).
    """
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(doc.title)}</title><style>{CSS}</style></head>"
        f'<body><main class="mn-article"><h1>{esc(doc.title)}</h1>{render_document(doc.text)}'
        f'<p class="mn-disclaimer">{esc(disclaimer)}</p></main></body></html>'
    )


def render_provenance(c: Citation) -> str:
    """Page, source address, dates and reviewer of a cited document, when it says them."""
    meta = c.source_meta
    parts = [f"page {c.page}"] if c.page is not None else []
    url = meta.get("source_url", "")
    if re.match(r"https?://", url):  # never a javascript: or data: link from a document
        parts.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a>')
    if meta.get("date"):
        parts.append(f"published {esc(meta['date'])}")
    if meta.get("reviewed"):
        by = f" by {esc(meta['reviewed_by'])}" if meta.get("reviewed_by") else ""
        parts.append(f"reviewed {esc(meta['reviewed'])}{by}")
    line = f'<span class="mn-provenance">{" · ".join(parts)}</span>' if parts else ""
    if c.stale:
        line += '<br><strong class="mn-stale">This source may be out of date: its last review is over two years old.</strong>'
    return f"<br>{line}" if line else ""


def quoted_in_order(passage: str, quoted: Sequence[str]) -> list[tuple[str, bool]]:
    """The quoted sentences in passage order, each with whether passage text was skipped before it.

    >>> quoted_in_order("A is so. B is so. C is so.", ["C is so.", "A is so."])
    [('A is so.', False), ('C is so.', True)]
    """
    found = sorted({(passage.find(s), s) for s in quoted if s})
    out: list[tuple[str, bool]] = []
    end = 0
    for at, sentence in found:
        # subtle: a sentence not found in the passage (at -1) counts as a skip, never as adjacent.
        skipped = bool(out) and (at < 0 or end < 0 or bool(passage[end:at].strip()))
        out.append((sentence, skipped))
        end = at + len(sentence) if at >= 0 else -1
    return out


def render_quote(passage: str, quoted: Sequence[str]) -> str:
    """What a source shows under the answer: only the sentences it quotes, "…" where the passage has
    more between them; a sentence that discourages care is withheld here as everywhere."""
    texts = default_texts()
    return "".join(
        (" … " if skipped else " " if n else "")
        + (f'<span class="mn-withheld">{esc(texts.withheld)}</span>' if texts.discourages_care(s) else esc(s))
        for n, (s, skipped) in enumerate(quoted_in_order(passage, quoted))
    )


def article_href(doc_id: str) -> str:
    """The relative link to a document's page (every character that is not a path one is %-escaped)."""
    return ARTICLE_HREF.format(doc=quote(doc_id, safe="/"))


def render_source(c: Citation, prefix: str, article: bool) -> str:
    """One source: title and section, the quoted sentences, the whole passage on request, and a link
    to the article page when ``article`` says the server has one."""
    head = (
        f'<p class="mn-source-head"><span class="mn-source-n">[{c.n}]</span> <strong>{esc(c.title)}</strong>'
        f'<br><span class="mn-section">{esc(c.section)}</span>{render_provenance(c)}</p>'
    )
    quote_html = render_quote(c.text, c.sentences)
    passage = f'<blockquote class="mn-passage">{highlight(c.text, c.sentences)}</blockquote>'
    if not quote_html:  # nothing quoted to show on its own: the passage is the quote
        body = passage
    elif " ".join(c.text.split()) == " ".join(" ".join(c.sentences).split()):  # the quote is the whole passage
        body = f'<blockquote class="mn-quote">{quote_html}</blockquote>'
    else:
        body = (f'<blockquote class="mn-quote">{quote_html}</blockquote>'
                f'<details class="mn-more"><summary>Show the whole passage</summary>{passage}</details>')
    link = (f'<p class="mn-article-link"><a href="{esc(article_href(c.doc))}" target="_blank" '
            'rel="noopener noreferrer">Read the whole article</a> (opens in a new tab)</p>') if article else ""
    return f'<li id="{prefix}-src-{c.n}" class="mn-source">{head}{body}{link}</li>'


def render_sources(citations: Sequence[Citation], prefix: str, articles: Collection[str] = ()) -> str:
    """The sources under an answer; ``articles`` holds the doc ids that have an article page."""
    if not citations:
        return ""
    items = "".join(render_source(c, prefix, c.doc in articles) for c in citations)
    return f'<div class="mn-sources"><p class="mn-sources-title">Sources</p><ol>{items}</ol></div>'


def render_answer(
    answer: Answer,
    prefix: str,
    disclaimer: str,
    articles: Collection[str] = (),
    provisional: bool = False,
) -> str:
    """One assistant message: notice first, then the answer, its sources and the disclaimer.

    ``provisional`` marks text still being written by a streaming answerer: the
    notice and the text so far, without sources, disclaimer or copy button.
    """
    notice = render_notice(answer.triage.level, answer.notice, answer.triage.signals, announce=not provisional)
    body = render_body(answer.answer, prefix, {c.n for c in answer.citations})
    if provisional:
        return f'<div class="mn-answer" id="{prefix}">{notice}{body}<p class="mn-pending">…</p></div>'
    if answer.scope is not None and answer.scope.decision == "partial" and answer.scope.note:
        body += f'<p class="mn-uncovered">{esc(answer.scope.note)}</p>'  # what the sources do not cover
    return (
        f'<div class="mn-answer" id="{prefix}">{notice}{body}{render_sources(answer.citations, prefix, articles)}'
        f'<p class="mn-disclaimer">{esc(disclaimer)}</p>'
        '<button type="button" class="mn-copy">Copy answer</button></div>'
    )


def render_pending(prefix: str) -> str:
    return f'<div class="mn-answer" id="{prefix}"><p class="mn-pending">Looking through the sources…</p></div>'


def render_error(message: str, prefix: str, notice_html: str = "") -> str:
    """An error in place of an answer; an escalation notice, when triage produced one, stays on top."""
    return f'<div class="mn-answer" id="{prefix}">{notice_html}<p class="mn-error" role="status">{esc(message)}</p></div>'


def format_time(iso: str | None) -> str:
    if not iso:
        return "unknown"
    try:
        return datetime.fromisoformat(iso).strftime("%d %b %Y, %H:%M %Z").strip().rstrip(",")
    except ValueError:
        return iso


def render_info(info: Any, titles: Sequence[str] = ()) -> str:
    """The corpus panel: what is being served, and how fresh the index is."""
    rows = [
        ("Documents", str(info.documents)),
        ("Passages", str(info.passages)),
        ("Last indexed", format_time(info.indexed_at)),
        ("Corpus version", info.corpus_version or "unknown"),
        ("Embedding model", info.model or "unknown"),
    ]
    degraded = tuple(getattr(info, "degraded", ()) or ())
    # The reason (paths, errors) is the operator's, in the log and the JSON; patients get what it means.
    rows.insert(0, ("Status", DEGRADED_STATUS if degraded else "Answering from the sources"))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    docs = "".join(f"<li>{esc(t)}</li>" for t in titles)
    return f'<div class="mn-info"><dl>{dl}</dl>{f"<p>Articles:</p><ul>{docs}</ul>" if docs else ""}</div>'


def shown_message(text: str, limit: int = MAX_MESSAGE_CHARS, head: int = 600) -> str:
    """A message as the chat shows it back: one over the size cap is shown by its start only.

    >>> shown_message("a" * 30_000)[-40:]
    'aaaa… (30,000 characters, not all shown)'
    """
    return text if len(text) <= limit else f"{text[:head]}… ({len(text):,} characters, not all shown)"
