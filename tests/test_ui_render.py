"""Fast tests of what the chat shows: escaping, citation links, notices, errors, feedback storage,
the size of an answer and the article page behind "Read the whole article".

No gradio server and no model: the rendering helpers and the ``Service`` the UI
calls are plain Python, driven here with a scripted assistant; the article route
is served by starlette's test client.
"""

from __future__ import annotations

import doctest
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.ui import feedback as fb
from assistant.ui import serving
from assistant import ui
from assistant.answering import markers
from assistant.corpus.chunking import chunk_documents
from assistant.corpus.cleaning import load_corpus
from assistant.errors import AssistantError, IndexMissingError
from assistant.safety.notices import default_texts
from assistant.schema import Answer, Citation, Document, Triage, Turn
from assistant.text import sentences
from assistant.safety import Triager

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
RED_FLAG = "I have a fever and pus coming out of my cheek 3 days after microneedling"
TEXTS = default_texts()


def citation(n: int, text: str, sentences: Sequence[str], title: str = "Pimples After Microneedling",
             section: str = "What to Expect", doc: str = "pimples.txt") -> Citation:
    return Citation(n=n, doc=doc, title=title, section=section, text=text, score=0.9, chunk_id=f"c{n}",
                    sentences=tuple(sentences))


def answer(level: str = "none", signals: Sequence[str] = (), **kwargs) -> Answer:
    passage_1 = "Pimples are common.\n\nThey resolve within a week. Avoid picking them."
    passage_2 = "Keep the skin clean."
    defaults = dict(
        notice=TEXTS.notice(level),  # type: ignore[arg-type]
        answer="They resolve within a week. [1] Keep the skin clean. [2] Avoid picking them. [1]",
        triage=Triage(level, tuple(signals)),  # type: ignore[arg-type]
        abstained=False,
        citations=(
            citation(1, passage_1, ["They resolve within a week.", "Avoid picking them."]),
            citation(2, passage_2, ["Keep the skin clean."], title="Aftercare", section="Cleansing", doc="care.txt"),
        ),
    )
    defaults.update(kwargs)
    return Answer(**defaults)  # type: ignore[arg-type]


def assert_single_html_block(html: str) -> None:
    # One line: Gradio's Markdown pass must see a single HTML block and leave the escaped text alone.
    assert "\n" not in html
    assert html.startswith("<div") and html.endswith("</div>")


# ---------------------------------------------------------------- escaping


def test_user_text_is_escaped_not_executed() -> None:
    html = ui.render_user(HOSTILE + "\n\n**bold** [x](javascript:alert(1))")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "onerror=&quot;" in html
    assert_single_html_block(html)


def test_everything_from_a_document_is_escaped() -> None:
    hostile = citation(1, f"Redness is normal. {HOSTILE} Use a cold compress.", ["Redness is normal."],
                       title=f"Title {HOSTILE}", section=f"Section {HOSTILE}", doc="bad.txt")
    body = Answer(notice=None, answer=f"Redness is normal. [1] {HOSTILE} [1]", triage=Triage("none"),
                  abstained=False, citations=(hostile,))
    html = ui.render_answer(body, "p", TEXTS.disclaimer, {"bad.txt"})
    tags = set(re.findall(r"<\s*([a-zA-Z]+)", html))
    assert tags <= {"div", "p", "a", "ol", "li", "span", "strong", "br", "blockquote", "mark", "details", "summary",
                    "button"}, tags
    assert "onerror=\"" not in html
    assert html.count("&lt;script&gt;") == 4  # answer, title, section, passage (the article is its own page)
    assert 'href="article/bad.txt"' in html
    assert_single_html_block(html)


def test_signals_and_errors_are_escaped() -> None:
    assert "<script" not in ui.render_notice("urgent", TEXTS.notices["urgent"], [HOSTILE])
    assert "<img" not in ui.render_error(HOSTILE, "p")


# ---------------------------------------------------------------- citations


def test_markers_link_to_sources_of_the_same_message() -> None:
    html = ui.render_answer(answer(), "a1", TEXTS.disclaimer)
    hrefs = re.findall(r'href="#([^"]+)"', html)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert hrefs == ["a1-src-1", "a1-src-2", "a1-src-1"]
    assert set(hrefs) <= ids


def test_a_marker_without_a_source_is_not_a_link() -> None:
    html = ui.render_body("Said once. [3]", "a1", {1})
    assert "href" not in html and "Said once. [3]" in html


def test_markers_inside_and_grouped_are_linked() -> None:
    html = ui.render_body("Redness [1] fades; see a doctor [1, 2].", "a1", {1, 2})
    assert html.count('class="mn-cite"') == 3 and 'href="#a1-src-2"' in html


def test_sources_show_the_quoted_sentences_and_the_whole_passage_only_on_request() -> None:
    html = ui.render_sources(answer().citations, "a1", {"pimples.txt"})
    assert "<strong>Pimples After Microneedling</strong>" in html and "What to Expect" in html
    first, second = html.split('<li id="a1-src-2"')
    quote, more = first.split('<details class="mn-more">')
    assert '<blockquote class="mn-quote">They resolve within a week. Avoid picking them.</blockquote>' in quote
    assert "Pimples are common" not in quote  # not quoted: only behind "Show the whole passage"
    assert more.startswith("<summary>Show the whole passage</summary>")
    assert "Pimples are common.<br><br><mark>They resolve within a week.</mark> <mark>Avoid picking them.</mark>" in more
    # Source 2 quotes its whole passage: nothing more to show; and the server has no article page for it.
    assert "<details" not in second and "Keep the skin clean." in second
    assert html.count("Read the whole article") == 1
    assert '<a href="article/pimples.txt" target="_blank" rel="noopener noreferrer">' in first


def test_a_quote_says_where_the_passage_skips_and_withholds_what_discourages_care() -> None:
    passage = "A is so. B is so. C is so. You should never see a doctor about it."
    html = ui.render_quote(passage, ["C is so.", "A is so.", "You should never see a doctor about it.", "A is so."])
    assert html == f'A is so. … C is so. <span class="mn-withheld">{ui.esc(TEXTS.withheld)}</span>'
    assert ui.render_quote(passage, ["Not in it.", "B is so."]) == "Not in it. … B is so."
    assert ui.render_quote(passage, []) == ""
    html = ui.render_sources([citation(1, passage, [])], "a1")  # nothing quoted: the passage is shown
    assert "mn-quote" not in html and "<details" not in html and "A is so. B is so." in html


def test_article_links_escape_the_doc_id() -> None:
    assert ui.article_href("clinic/after care#1?.md") == "article/clinic/after%20care%231%3F.md"
    html = ui.render_sources([citation(1, "T.", ["T."], doc='x"><script>.md')], "a1", {'x"><script>.md'})
    assert "<script" not in html and 'href="article/x%22%3E%3Cscript%3E.md"' in html


def test_highlight_survives_overlapping_and_missing_quotes() -> None:
    assert ui.highlight("abc def ghi", ["abc def", "def ghi", "nowhere"]) == "<mark>abc def</mark><mark> ghi</mark>"
    assert ui.highlight("a < b", []) == "a &lt; b"


def test_the_body_keeps_every_word_on_one_line() -> None:
    html = ui.render_body("A is so. [1]\n\nB is  so. [2] Unmarked tail.", "a1", {1, 2})
    assert "\n" not in html and "<br>" not in html
    text = re.sub(r"<[^>]+>", "", html)
    assert text == "A is so. [1] B is so. [2] Unmarked tail."


def test_doctests() -> None:
    for module in (ui.render, ui.service, serving):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_history_turns_drop_markers() -> None:
    assert markers.strip("Redness is normal. [1] Ice helps. [2]") == "Redness is normal. Ice helps."
    assert markers.strip("It fades [1, 2]. Rest.") == "It fades. Rest."


# ---------------------------------------------------------------- notices


@pytest.mark.parametrize(
    ("level", "css", "label"),
    [("emergency", "mn-notice-emergency", "Emergency"), ("urgent", "mn-notice-urgent", "Urgent")],
)
def test_notice_per_tier_comes_first_with_plain_reasons(level: str, css: str, label: str) -> None:
    html = ui.render_answer(answer(level, ["fever or chills"]), "a1", TEXTS.disclaimer)
    notice_at, body_at = html.index(css), html.index("mn-body")
    assert notice_at < body_at
    assert label in html and ui.esc(TEXTS.notices[level]) in html
    assert "<strong>Why:</strong> fever or chills" in html
    assert 'role="alert"' in html


def test_no_notice_for_level_none() -> None:
    assert ui.render_notice("none", None, ()) == ""
    assert "mn-notice" not in ui.render_answer(answer(), "a1", TEXTS.disclaimer)


def test_an_extractive_answer_comes_whole_in_one_update_with_the_notice_first() -> None:
    full = answer("urgent", ["pus"])
    service = ui.Service(ScriptedAssistant(full))  # type: ignore[arg-type]
    frames = [s.messages[-1]["content"] for s, _ in service.respond("pus on my cheek", ui.Session())]
    # The pending line, then the complete answer: no sentence-by-sentence frames, no pause between them.
    assert len(frames) == 2 and "Looking through the sources" in frames[0]
    prefix = frames[1].split('id="')[1].split('"')[0]
    assert frames[1] == ui.render_answer(full, prefix, TEXTS.disclaimer, service.documents)
    assert frames[1].index('<div class="mn-notice mn-notice-urgent" role="alert">') == len(f'<div class="mn-answer" id="{prefix}">')
    assert ui.esc(TEXTS.disclaimer) in frames[1] and "mn-copy" in frames[1] and "mn-sources" in frames[1]


def test_abstention_has_no_sources_but_keeps_the_disclaimer() -> None:
    html = ui.render_answer(answer(answer=TEXTS.abstention, abstained=True, citations=()), "a1", TEXTS.disclaimer)
    assert "mn-sources" not in html and ui.esc(TEXTS.disclaimer) in html


def test_corpus_panel_lists_counts_and_titles() -> None:
    info = SimpleNamespace(documents=3, passages=41, indexed_at="2025-01-02T03:04:05+00:00",
                           corpus_version="abc", model="all-MiniLM-L6-v2")
    html = ui.render_info(info, ["A <b>title</b>"])
    assert "<dd>3</dd>" in html and "<dd>41</dd>" in html and "02 Jan 2025, 03:04 UTC" in html
    assert "A &lt;b&gt;title&lt;/b&gt;" in html


# ---------------------------------------------------------------- the service behind the UI


class ScriptedAssistant:
    """Just enough of Assistant for the UI: ``stream`` yields (or raises) what the test says.

    ``provisional`` answers are yielded first, as a streaming LLM answerer would.
    """

    def __init__(self, reply: Answer | Exception, provisional: Sequence[Answer] = ()) -> None:
        self.reply = reply
        self.provisional = list(provisional)
        self.settings = SimpleNamespace(corpus_dir=ROOT / "corpus")
        self.location = SimpleNamespace(manifest=lambda: {"documents": {"a.txt": {"title": "A"}}})
        self.info = SimpleNamespace(documents=1, passages=2, indexed_at=None, corpus_version=None, model=None)
        self.texts = TEXTS
        self.triager = Triager.from_file()
        self.asked: list[tuple[str, tuple[Turn, ...]]] = []

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[Answer]:
        self.asked.append((question, tuple(history)))
        if isinstance(self.reply, Exception):
            raise self.reply
        yield from self.provisional
        yield self.reply

    def reload(self) -> None:
        raise IndexMissingError("No index at /nowhere. Run `assistant ingest` first.")


def run(service: ui.Service, message: str, session: ui.Session | None = None) -> tuple[ui.Session, list[str]]:
    session = session or ui.Session()
    statuses = [status for _, status in service.respond(message, session)]
    return session, statuses


def test_empty_message_gets_a_gentle_prompt_and_asks_nothing() -> None:
    assistant = ScriptedAssistant(answer())
    session, statuses = run(ui.Service(assistant), "   ")  # type: ignore[arg-type]
    assert statuses == [ui.EMPTY_PROMPT] and session.messages == [] and assistant.asked == []


def test_answer_streams_and_history_is_kept() -> None:
    assistant = ScriptedAssistant(answer())
    service = ui.Service(assistant)  # type: ignore[arg-type]
    session, statuses = run(service, "do pimples go away?")
    assert len(statuses) == 1 + 1  # the pending frame, then the whole answer
    assert session.turns[-1] == Turn("assistant", "They resolve within a week. Keep the skin clean. Avoid picking them.")
    run(service, "how long?", session)
    assert assistant.asked[-1][1][0] == Turn("user", "do pimples go away?")
    assert set(session.exchanges) == {1, 3}


def test_assistant_error_is_shown_as_is() -> None:
    service = ui.Service(ScriptedAssistant(AssistantError("The index is being rebuilt; try again in a minute.")))  # type: ignore[arg-type]
    session, _ = run(service, "is redness normal?")
    assert "The index is being rebuilt; try again in a minute." in session.messages[-1]["content"]


def test_unexpected_error_hides_the_traceback_but_not_the_escalation() -> None:
    service = ui.Service(ScriptedAssistant(RuntimeError("chroma exploded at line 42")))  # type: ignore[arg-type]
    session, _ = run(service, RED_FLAG)
    shown = session.messages[-1]["content"]
    assert ui.GENERIC_ERROR in shown and "chroma" not in shown and "Traceback" not in shown
    assert shown.index("mn-notice-urgent") < shown.index(ui.GENERIC_ERROR)
    assert session.turns == []  # a failed turn is not history


def test_reload_failure_says_what_to_do() -> None:
    _, line = ui.Service(ScriptedAssistant(answer())).reload()  # type: ignore[arg-type]
    assert "Run `assistant ingest` first" in line


# ---------------------------------------------------------------- feedback


def test_no_feedback_database_means_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert fb.open_store(None) is None and fb.open_store("  ") is None
    service = ui.Service(ScriptedAssistant(answer()), feedback=None)  # type: ignore[arg-type]
    session, _ = run(service, "do pimples go away?")
    session.rating = (1, "down")
    assert service.save_feedback(session, fb.REASONS[0], "it missed my fever") == ""
    assert list(tmp_path.iterdir()) == []


def test_feedback_is_stored_when_enabled_and_updated_not_duplicated(tmp_path: Path) -> None:
    store = fb.open_store(tmp_path / "fb.sqlite")
    assert store is not None
    service = ui.Service(ScriptedAssistant(answer()), feedback=store)  # type: ignore[arg-type]
    session, _ = run(service, "do pimples go away?")
    session.rating = (1, "down")
    assert "saved" in service.save_feedback(session, "did not answer", "  too short ")
    session.rating = (1, "down")
    service.save_feedback(session, fb.MISSED_WARNING, "I had a fever")
    rows = store.rows()
    assert len(rows) == 1
    assert rows[0]["reason"] == fb.MISSED_WARNING and rows[0]["comment"] == "I had a fever"
    assert rows[0]["question"] == "do pimples go away?" and rows[0]["answer"]["citations"][0]["n"] == 1


def test_a_reason_is_only_kept_with_a_thumbs_down(tmp_path: Path) -> None:
    store = fb.FeedbackStore(tmp_path / "fb.sqlite")
    service = ui.Service(ScriptedAssistant(answer()), feedback=store)  # type: ignore[arg-type]
    session, _ = run(service, "do pimples go away?")
    session.rating = (1, "up")
    service.save_feedback(session, "unsafe advice", "")
    assert store.rows()[0]["rating"] == "up" and store.rows()[0]["reason"] is None


def test_unknown_reason_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(fb.FeedbackError, match="choose one of"):
        fb.Feedback("down", "q", (), {}, reason="meh")


def test_export_turns_feedback_into_eval_cases(tmp_path: Path) -> None:
    store = fb.FeedbackStore(tmp_path / "fb.sqlite")
    history = (Turn("user", "i had microneedling"), Turn("assistant", "Redness is normal."))
    missed = answer().to_dict()
    store.add(fb.Feedback("down", "pus on my cheek?", history, missed, fb.MISSED_WARNING, "I have a fever\ntoo"))
    store.add(fb.Feedback("down", "can i ice it", (), answer(abstained=True).to_dict(), "did not answer"))
    store.add(fb.Feedback("up", "fever?", (), answer("urgent").to_dict()))
    store.add(fb.Feedback("down", "dose?", (), answer().to_dict(), "unsafe advice", "named a dose"))
    out = tmp_path / "cases" / "feedback.jsonl"
    assert fb.export_cases(store.path, out) == 4
    cases = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert cases[0] == {
        "id": "fb00001", "question": "pus on my cheek?",
        "history": [{"role": "user", "content": "i had microneedling"}, {"role": "assistant", "content": "Redness is normal."}],
        "gold": [], "expect": "answer", "split": "test", "why": "feedback: missed a warning sign: I have a fever too",
        "level": "urgent",
    }
    assert cases[1]["expect"] == "answer" and "level" not in cases[1]
    assert cases[2]["expect"] == "answer" and cases[2]["level"] == "urgent" and cases[2]["why"] == "feedback: liked: "
    assert cases[3]["expect"] == "abstain"


def test_export_without_a_database_says_how_to_collect(tmp_path: Path) -> None:
    with pytest.raises(fb.FeedbackError, match="--feedback-db"):
        fb.export_cases(tmp_path / "missing.sqlite", tmp_path / "out.jsonl")
    assert not (tmp_path / "missing.sqlite").exists()


def test_sources_show_provenance_and_flag_stale_reviews() -> None:
    from assistant.schema import Citation

    fresh = Citation(1, "leaflet.pdf", "Leaflet", "Care", "Keep it clean.", 0.5, page=2,
                     source_meta={"source_url": "https://clinic.example/a?x=1&y=<2>", "date": "2025-01-02",
                                  "reviewed": "2025-02-01", "reviewed_by": "Dr. <b>A</b>"})
    html = ui.render_sources([fresh], "m1", {})
    assert "page 2" in html and "published 2025-01-02" in html and "reviewed 2025-02-01 by Dr. &lt;b&gt;A&lt;/b&gt;" in html
    assert 'href="https://clinic.example/a?x=1&amp;y=&lt;2&gt;"' in html and "out of date" not in html
    hostile = Citation(1, "x.md", "X", "S", "T.", 0.1, source_meta={"source_url": "javascript:alert(1)"}, stale=True)
    html = ui.render_sources([hostile], "m2", {})
    assert "href" not in html and "javascript" not in html and "may be out of date" in html


def test_a_streaming_answerer_shows_grounded_text_as_it_comes_then_the_final_answer() -> None:
    final = answer("urgent")
    partial = replace(final, answer=final.answer.split(" [1]")[0] + " [1]", citations=(), answerer="streaming")
    service = ui.Service(ScriptedAssistant(final, provisional=[partial]))  # type: ignore[arg-type]
    session = ui.Session()
    frames = [s.messages[-1]["content"] for s, _ in service.respond("fever after microneedling", session)]
    provisional = [f for f in frames if "mn-pending" in f and "mn-notice" in f]
    assert provisional, frames
    assert "mn-sources" not in provisional[0] and provisional[0].index("mn-notice") < provisional[0].index("mn-body")
    assert frames[-1] == ui.render_answer(final, frames[-1].split('id="')[1].split('"')[0], TEXTS.disclaimer,
                                          service.documents)


# ---------------------------------------------------------------- the size of an answer, the article page

# Gradio resends the whole chat history with every update, and a patient on a phone downloads
# and renders each answer. A cited source is one passage of at most chunk_size characters
# (700 by default), shown at most twice: its quoted sentences, and the whole passage behind
# "Show the whole passage". Three such sources, the notice, the body and the markup come to
# about 6 KB; 8 KB leaves room for escaping and provenance, and is still less than any one
# article of the corpus (6-15 KB of text) that each answer used to embed (17-58 KB in all).
ANSWER_CAP_BYTES = 8_000


def long_citations() -> tuple[list[Document], list[Citation]]:
    """The corpus articles and the longest passage of each as a citation quoting its first two sentences."""
    docs, _ = load_corpus(ROOT / "corpus")
    longest: dict[str, Any] = {}
    for chunk in sorted(chunk_documents(docs), key=lambda c: len(c.text)):
        longest[chunk.doc_id] = chunk
    picked = sorted(longest.values(), key=lambda c: len(c.text), reverse=True)[:3]
    citations = [Citation(n=n, doc=c.doc_id, title=c.title, section=c.section, text=c.text, score=0.8,
                          chunk_id=c.chunk_id, sentences=tuple(s for _, _, s in sentences(c.text))[:2])
                 for n, c in enumerate(picked, 1)]
    return docs, citations


def test_an_answer_with_three_long_sources_stays_small_and_holds_no_whole_article() -> None:
    docs, citations = long_citations()
    assert len(citations) == 3 and min(len(c.text) for c in citations) > 500
    body = " ".join(f"{s} [{c.n}]" for c in citations for s in c.sentences)
    html = ui.render_answer(answer("urgent", ["fever or chills", "pus"], answer=body, citations=tuple(citations)),
                            "a1234abcd", TEXTS.disclaimer, {d.doc_id for d in docs})
    assert_single_html_block(html)
    assert len(html.encode("utf-8")) < ANSWER_CAP_BYTES, len(html.encode("utf-8"))
    assert html.count("Read the whole article") == 3 and html.count("Show the whole passage") == 3
    # Every paragraph of the cited articles that is not in a cited passage stays on the article page.
    cited = {d.doc_id for d in docs} & {c.doc for c in citations}
    elsewhere = [b.strip() for d in docs if d.doc_id in cited for b in re.split(r"\n\s*\n", d.text)
                 if len(b.strip()) > 40 and not any(b.strip() in c.text for c in citations)]
    assert len(elsewhere) > 10
    assert [b for b in elsewhere if ui.esc(b) in html] == []


def test_the_article_page_is_the_whole_article_escaped_with_poison_withheld() -> None:
    poison = "A fever after microneedling is completely normal and you should never see a doctor about it."
    text = f"Guide {HOSTILE}\n\nRedness {HOSTILE}\n\nRedness fades within days. {poison} Rest {HOSTILE}."
    service = ui.Service(ScriptedAssistant(answer()))  # type: ignore[arg-type]
    service.documents = {"bad.md": Document("bad.md", f"Guide {HOSTILE}", text, source="bad.md")}
    page = service.article_page("bad.md")
    assert page is not None and page.startswith("<!doctype html>") and page.endswith("</html>")
    assert "<script" not in page and "<img" not in page and 'onerror="' not in page
    assert f"<title>Guide {ui.esc(HOSTILE)}</title>" in page and f"<h1>Guide {ui.esc(HOSTILE)}</h1>" in page
    assert f'<p class="mn-doc-h"><strong>Redness {ui.esc(HOSTILE)}</strong></p>' in page  # a heading, in bold
    assert "<p>Redness fades within days. " in page and f"Rest {ui.esc(HOSTILE)}." in page
    assert "never see a doctor" not in page and ui.esc(TEXTS.withheld) in page
    assert ui.esc(TEXTS.disclaimer) in page
    for unknown in ("nope.md", "", "../bad.md", "/bad.md", "bad.md/", "BAD.md"):
        assert service.article_page(unknown) is None, unknown


def test_the_article_route_serves_only_the_corpus_and_forbids_script() -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.testclient import TestClient

    service = ui.Service(ScriptedAssistant(answer()))  # type: ignore[arg-type]  # the bundled corpus
    doc = service.documents["pimples-after-microneedling.txt"]
    app = Starlette(routes=serving.article_routes(service.article_page), middleware=[Middleware(serving.GuardMiddleware)])
    with TestClient(app) as client:
        page = client.get(ui.article_href(doc.doc_id))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        paragraph = max(re.split(r"\n\s*\n", doc.text), key=len)
        assert ui.esc(paragraph) in page.text
        for bad in ("article/nope.txt", "article/", "article/../pyproject.toml", "article/%2e%2e/pyproject.toml",
                    "article/%2E%2E%2Fpyproject.toml", "article//etc/passwd", "article/corpus/pimples-after-microneedling.txt"):
            gone = client.get(bad)
            assert gone.status_code == 404 and "pyproject" not in gone.text, bad
        assert client.get("gradio_api/deep_link").status_code == 404  # the guard still stands in front


class LaunchRecorder:
    """Enough of gr.Blocks for serving.launch: it records the options and serves nothing."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    def queue(self, **_: Any) -> LaunchRecorder:
        return self

    def launch(self, **options: Any) -> None:
        self.options = options

    def close(self) -> None:
        pass


def test_launch_adds_routes_beside_the_guard_instead_of_replacing_it() -> None:
    demo = LaunchRecorder()
    routes = serving.article_routes(lambda doc_id: None)
    serving.launch(demo, "127.0.0.1", 1, prevent_thread_lock=True, app_kwargs={"routes": routes})
    demo.close()
    kwargs = demo.options["app_kwargs"]
    assert [m.cls for m in kwargs["middleware"]] == [serving.GuardMiddleware] and kwargs["routes"] == routes
