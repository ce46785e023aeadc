"""The Gradio chat UI: ``build_app(assistant) -> gr.Blocks`` and the HTML each message shows.

This is the one module that imports gradio, and it does so inside ``build_app``
and ``launch`` only, so the rendering helpers below import fast and are unit
tested without a server.

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

import logging
import os
import re
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

STATIC = Path(__file__).parent / "static"
from assistant.corpus.cleaning import is_heading, load_corpus
from assistant.errors import AssistantError, EmptyQuestionError
from assistant.ui.feedback import REASONS, Feedback, FeedbackStore, Rating
from assistant.guards import MAX_HISTORY_TURNS, MAX_MESSAGE_CHARS
from assistant.safety.notices import default_texts
from assistant.schema import Answer, Citation, Document, Turn
from assistant.text import sentences

# subtle: gradio reads this when it is first imported; the app never phones home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

if TYPE_CHECKING:
    import gradio as gr

    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

# The chat names what its corpus is about: the subject read from the documents
# (assistant.scope.subject), or TREATMENT when an index records none.
TITLE = "Questions about {subject}"
TREATMENT = "your treatment"
GENERIC_ERROR = "Something went wrong; please try again."
DEGRADED_STATUS = ("The knowledge base is unavailable: answers show escalation notices only, "
                   "until the operator fixes the index.")
EMPTY_PROMPT = "Please type your question first, for example: “Is redness normal two days after treatment?”"
TIER_LABELS = {"emergency": "Emergency: get help now", "urgent": "Urgent: get checked by a professional today"}
EXAMPLES = (
    "Is it normal to be red and swollen two days after {treatment}?",
    "I got pimples after {treatment}. How long do they last?",
    "What are the signs of an infection after {treatment}?",
    "When can I wear makeup again after {treatment}?",
)
CHAT_CONCURRENCY = 8  # questions answered at once; the rest wait in gradio's queue, in order
# Where the chat links an article: relative, so it works behind a root path (serving.ARTICLE_ROUTE).
ARTICLE_HREF = "article/{doc}"
_MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


# ---------------------------------------------------------------- rendering


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
        cited = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not all(n in numbers for n in cited):
            return match.group(0)  # a number with no source under it is left as plain text
        return "".join(f'<a class="mn-cite" href="#{prefix}-src-{n}" title="Show source {n}">[{n}]</a>' for n in cited)

    return _MARKERS.sub(link, escaped)


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


def strip_markers(text: str) -> str:
    """The answer as history for the next question: the [n] markers mean nothing without their sources."""
    return re.sub(r"\s+", " ", _MARKERS.sub("", text)).replace(" .", ".").strip()


# ---------------------------------------------------------------- state


@dataclass
class Exchange:
    """One answered question, kept in the session so feedback can refer to it."""

    question: str
    history: tuple[Turn, ...]
    answer: dict[str, Any]
    feedback_id: int | None = None


@dataclass
class Session:
    """Per-browser-session state: what is shown, and the raw turns the pipeline sees."""

    messages: list[dict[str, str]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    exchanges: dict[int, Exchange] = field(default_factory=dict)
    rating: tuple[int, Rating] | None = None  # (message index, thumbs) awaiting "Send feedback"


class Service:
    """What the UI does, without gradio: ask with streaming, reload, store feedback."""

    def __init__(self, assistant: Assistant, feedback: FeedbackStore | None = None) -> None:
        self.assistant = assistant
        self.feedback = feedback
        # Gradio runs handlers on worker threads; reload() swaps the index under ask().
        self._lock = threading.Lock()
        # Replaced whole on reload (never mutated), so the article route reads it without the lock.
        self.documents: dict[str, Document] = {}
        self.titles: list[str] = []
        self._read_sources()

    def _read_sources(self) -> None:
        """Whole articles for "Read the whole article": from the corpus folder the settings name, else the one the index was built from."""
        try:
            from assistant.index.ingest import corpus_of

            docs, _ = load_corpus(corpus_of(self.assistant.settings, self.assistant.location))
            self.documents = {d.doc_id: d for d in docs}
        except AssistantError as exc:
            log.warning("Whole articles unavailable (%s); answers still show the cited passages.", exc)
            self.documents = {}
        try:
            manifest = self.assistant.location.manifest()
            self.titles = [str(d.get("title", doc_id)) for doc_id, d in sorted(manifest.get("documents", {}).items())]
        except Exception:  # the panel is informative only; never fail the app for it
            self.titles = []

    def info_html(self) -> str:
        return render_info(self.assistant.info, self.titles)

    def article_page(self, doc_id: str) -> str | None:
        """The page of one served article, or None when ``doc_id`` is not one (the route's 404).

        Only a key of ``documents`` is ever looked up: the id never reaches the file system.
        """
        doc = self.documents.get(doc_id)
        return render_article_page(doc, self.assistant.texts.disclaimer) if doc is not None else None

    def reload(self) -> tuple[str, str]:
        """Re-read the index; returns (panel html, status line)."""
        try:
            with self._lock:
                self.assistant.reload()
                self._read_sources()
        except AssistantError as exc:
            log.warning("Could not reload the index: %s", exc)
            return self.info_html(), f"Could not reload: {exc}"
        except Exception as exc:
            log.warning("Could not reload the index: %s", exc)
            return self.info_html(), GENERIC_ERROR
        info = self.assistant.info
        return self.info_html(), f"Reloaded: {info.documents} documents, {info.passages} passages."

    def _fallback_notice(self, question: str, history: Sequence[Turn]) -> str:
        """Triage alone, for when answering failed: the escalation must still be shown if it applies."""
        try:
            triage = self.assistant.triager.assess(question, history)
            return render_notice(triage.level, self.assistant.texts.notice_for(triage), triage.signals)
        except Exception:
            log.exception("fallback triage failed")
            return ""

    def respond(self, message: str, session: Session) -> Iterator[tuple[Session, str]]:
        """Yield (session, status) after each change to ``session.messages``."""
        question = (message or "").strip()
        if not question:
            yield session, EMPTY_PROMPT
            return
        history = tuple(session.turns)
        prefix = f"a{uuid.uuid4().hex[:8]}"
        session.messages += [
            {"role": "user", "content": render_user(shown_message(question))},
            {"role": "assistant", "content": render_pending(prefix)},
        ]
        index = len(session.messages) - 1
        yield session, ""
        disclaimer = self.assistant.texts.disclaimer
        answer: Answer | None = None
        try:
            # No lock: the assistant answers from one snapshot of its index, so a
            # reload meanwhile is safe, and patients never wait for each other.
            for answer in self.assistant.stream(question, history):
                if answer.answerer == "streaming":  # grounded sentences of an LLM, as they come
                    session.messages[index]["content"] = render_answer(
                        answer, prefix, disclaimer, self.documents, provisional=True
                    )
                    yield session, ""
        except EmptyQuestionError:
            session.messages[index]["content"] = render_error(EMPTY_PROMPT, prefix)
            yield session, ""
            return
        except AssistantError as exc:
            session.messages[index]["content"] = render_error(str(exc), prefix, self._fallback_notice(question, history))
            yield session, ""
            return
        except Exception:
            log.exception("ask failed")
            session.messages[index]["content"] = render_error(GENERIC_ERROR, prefix, self._fallback_notice(question, history))
            yield session, ""
            return
        assert answer is not None  # stream always ends with the final answer
        # Shown whole, at once: an extractive answer is complete when it arrives, and a
        # streamed one is replaced by its final check's version. No pacing: a patient
        # (and everyone queued behind them) waits for nothing.
        session.messages[index]["content"] = render_answer(answer, prefix, disclaimer, self.documents)
        yield session, ""
        session.turns += [Turn("user", question[:MAX_MESSAGE_CHARS]), Turn("assistant", strip_markers(answer.answer))]
        del session.turns[:-MAX_HISTORY_TURNS]  # the pipeline reads no more; the session keeps no more
        session.exchanges[index] = Exchange(question, history, answer.to_dict())

    def save_feedback(self, session: Session, reason: str | None, comment: str) -> str:
        """Store the pending rating with its reason and comment; returns a line for the patient."""
        if self.feedback is None or session.rating is None:
            return ""
        index, rating = session.rating
        exchange = session.exchanges.get(index)
        if exchange is None:
            return "That message cannot be rated."
        reason = reason if reason in REASONS and rating == "down" else None
        comment = (comment or "").strip()
        try:
            if exchange.feedback_id is None:
                exchange.feedback_id = self.feedback.add(
                    Feedback(rating, exchange.question, exchange.history, exchange.answer, reason, comment)
                )
            else:
                self.feedback.update(exchange.feedback_id, rating, reason, comment)
        except AssistantError as exc:
            return f"Your feedback could not be saved: {exc}"
        session.rating = None
        return "Thank you. Your feedback was saved for the team to review."


# ---------------------------------------------------------------- gradio

# The page's style and script are files (ui/static/chat.css, ui/static/chat.js). The script copies a
# plain-text answer (the raw message is HTML), and shows each new answer from its top so an
# escalation notice is never scrolled out of sight. The article pages use the same style sheet.
CSS = (STATIC / "chat.css").read_text(encoding="utf-8")
HEAD = f"<script>\n{(STATIC / 'chat.js').read_text(encoding='utf-8')}</script>"


def theme() -> Any:
    import gradio as gr

    # System fonts only: the default theme would fetch web fonts from the internet.
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=_FONTS, font_mono=_MONO).set(
        button_primary_background_fill="#1d4ed8",
        button_primary_background_fill_hover="#1e40af",
        button_primary_text_color="#ffffff",
        button_primary_background_fill_dark="#1d4ed8",
        button_primary_text_color_dark="#ffffff",
    )


def build_app(assistant: Assistant, feedback: FeedbackStore | None = None) -> gr.Blocks:
    """The chat page. Feedback controls appear only when a feedback store is given."""
    from assistant.ui.serving import IndexWatcher, private_temp_dir

    private_temp_dir()  # before gradio is imported: its temp folder is this process's own
    import gradio as gr

    service = Service(assistant, feedback)

    def shown(text: str) -> Any:
        # An empty status line takes no room on a phone.
        return gr.update(value=text, visible=bool(text))

    def chat(message: str, session: Session) -> Iterator[tuple[Any, ...]]:
        for session, status in service.respond(message, session):
            yield [dict(m) for m in session.messages], "", shown(status), session

    def ask_example(selection: gr.SelectData, session: Session) -> Iterator[tuple[Any, ...]]:
        value = selection.value
        yield from chat(value.get("text", "") if isinstance(value, dict) else str(value), session)

    def clear() -> tuple[Any, ...]:
        return [], "", shown(""), Session(), gr.update(visible=False)

    def on_like(data: gr.LikeData, session: Session) -> tuple[Any, ...]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        if index not in session.exchanges or data.liked not in (True, False):
            session.rating = None
            return gr.update(visible=False), gr.update(), gr.update(), shown(""), session
        rating: Rating = "up" if data.liked is True else "down"
        session.rating = (index, rating)
        title = "**Thank you. Anything to add?**" if rating == "up" else "**Sorry this answer did not help.**"
        return gr.update(visible=True), title, gr.update(visible=rating == "down", value=None), shown(""), session

    def on_send(session: Session, reason_value: str | None, comment_value: str) -> tuple[Any, ...]:
        return gr.update(visible=False), shown(service.save_feedback(session, reason_value, comment_value)), "", session

    # subtle: gradio finds its event-data parameters through typing.get_type_hints, which
    # cannot see the local `gr` in postponed annotations; give it the real classes.
    ask_example.__annotations__["selection"] = gr.SelectData
    on_like.__annotations__["data"] = gr.LikeData

    subject = assistant.index.scope.subject.name if assistant.index is not None else ""
    title = TITLE.format(subject=subject or TREATMENT)
    examples = [q.format(treatment=f"my {subject}" if subject else "treatment") for q in EXAMPLES]
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        session = gr.State(Session())
        gr.HTML(
            f'<header class="mn-header"><h1>{esc(title)}</h1><p>{esc(assistant.texts.disclaimer)} '
            "Each number in an answer, like [1], links to the passage it quotes.</p></header>"
        )
        chatbot = gr.Chatbot(
            label="Conversation",
            elem_id="mn-chat",
            height="62vh",
            min_height=320,
            autoscroll=False,  # the page script shows each new answer from its top instead
            buttons=[],  # gradio's copy button would copy HTML; each answer has its own
            latex_delimiters=[],
            sanitize_html=True,
            allow_tags=False,
            group_consecutive_messages=False,
            feedback_options=("Like", "Dislike") if feedback else None,
            placeholder="Ask about redness, swelling, pimples, pain or other reactions after treatment.",
            examples=[{"text": q} for q in examples],
        )
        with gr.Group(visible=False, elem_id="mn-feedback") as feedback_panel:
            feedback_title = gr.Markdown("")
            reason = gr.Radio(list(REASONS), label="What went wrong? (optional)", visible=False)
            comment = gr.Textbox(label="Comment (optional)", lines=2, max_lines=6)
            gr.Markdown("Sending saves this question, the answer and your comment for the team to review.")
            send_feedback = gr.Button("Send feedback", variant="primary", size="sm")
        feedback_status = gr.Markdown(visible=False)
        textbox = gr.Textbox(
            label="Your question",
            placeholder="Type your question and press Enter",
            lines=1,
            max_lines=6,
            submit_btn="Send",
            elem_id="mn-input",
            html_attributes=gr.InputHTMLAttributes(enterkeyhint="send", autocomplete="off"),
        )
        status = gr.Markdown(visible=False, elem_id="mn-status")
        clear_button = gr.Button("Clear conversation", variant="secondary", size="sm")
        with gr.Accordion("About the sources", open=False, elem_id="mn-corpus"):
            info = gr.HTML(service.info_html())

        chat_outputs = [chatbot, textbox, status, session]
        # One pool for typed and example questions, so together they never run more than CHAT_CONCURRENCY.
        textbox.submit(chat, [textbox, session], chat_outputs, api_name="chat",
                       concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat")
        chatbot.example_select(ask_example, [session], chat_outputs, api_visibility="private",
                               concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat")
        for event in (clear_button.click, chatbot.clear):
            event(clear, None, [*chat_outputs, feedback_panel], api_visibility="private")
        # No reload endpoint: a public one let anyone slow every patient down. The
        # watcher below picks up a newly published index; the operator can send SIGHUP.
        demo.load(service.info_html, None, info, api_visibility="private")
        if feedback is not None:
            chatbot.like(on_like, [session], [feedback_panel, feedback_title, reason, feedback_status, session],
                         api_visibility="private")
            send_feedback.click(on_send, [session, reason, comment], [feedback_panel, feedback_status, comment, session],
                                api_visibility="private")
    demo.assistant_service = service  # type: ignore[attr-defined]
    demo.assistant_watcher = IndexWatcher(assistant.index_changed, service.reload).start()  # type: ignore[attr-defined]
    return demo


def launch(demo: gr.Blocks, host: str, port: int, **overrides: Any) -> Any:
    """Serve the app locally: no share link, no telemetry, no run history, no uploads, no web fonts
    (``assistant.ui.serving`` says what is exposed and why), and the article pages beside the chat."""
    from assistant.ui import serving

    service: Service = demo.assistant_service  # type: ignore[attr-defined]
    routes = {"routes": serving.article_routes(service.article_page)}
    options: dict[str, Any] = dict(
        theme=theme(),
        # In <head>, unscoped: gradio prefixes launch(css=...) rules, which then miss its page padding.
        head=f"<style>{CSS}</style>{HEAD}",
    )
    options.update(overrides)
    options["app_kwargs"] = serving.merge_app_kwargs(routes, overrides.get("app_kwargs") or {})
    return serving.launch(demo, host, port, **options)
