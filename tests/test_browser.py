"""The chat in a real browser: Debian's chromium driven by Python playwright.

These tests fail, never skip, when chromium is missing: CI installs it with
``apt-get install -y chromium``. Screenshots go to ``test-artifacts/``
(``red-flag-answer.png`` is the one the README embeds).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serve_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
RED_FLAG = "I have a fever and pus coming out of my cheek 3 days after microneedling"
EMERGENCY = "my throat is swelling and it's hard to breathe after microneedling"
PIMPLES = "Is it normal to get pimples after microneedling?"
XSS = '<script>window.__xss=1</script> and <img src=x onerror="window.__xss=1"> is my skin ok?'
HOSTILE_DOC = """Redness Guide <script>window.__xss=1</script>

Redness <img src=x onerror="window.__xss=1">

Some redness after microneedling is normal and usually fades within two days <img src=x onerror="window.__xss=1">. \
A cool compress can soothe redness after microneedling <script>window.__xss=1</script> when the skin feels hot.

Swelling

Mild swelling after microneedling usually settles within a day or two. Sleeping with your head raised can help.
"""
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Iterator[str]:
    """A second app whose only source article tries to run script and inject markup."""
    from assistant.config import Settings
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    base = tmp_path_factory.mktemp("hostile")
    (base / "corpus").mkdir()
    (base / "corpus" / "hostile.txt").write_text(HOSTILE_DOC, encoding="utf-8")
    settings = Settings.resolve(env={}, flags={"corpus_dir": base / "corpus", "index_dir": base / "index"})
    ingest(settings, real_embedder)
    demo, url = serve_app(Assistant.load(settings, real_embedder))
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def feedback_server(real_assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The app with feedback switched on, storing into a fresh SQLite file."""
    from assistant.ui.feedback import FeedbackStore

    store = FeedbackStore(tmp_path_factory.mktemp("feedback") / "feedback.sqlite")
    demo, url = serve_app(real_assistant, store)
    try:
        yield url, store
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if executable is None:
        # Fail, never skip: a quietly skipped browser suite would hide an XSS or a hidden notice.
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} is missing). Install it with "
            "`apt-get update && apt-get install -y chromium` (playwright cannot download browsers here)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page_at(browser: Any) -> Iterator[Any]:
    """Open a URL in a fresh context; every request the page makes is recorded on ``page.requests``."""
    contexts: list[Any] = []

    def open_page(url: str, width: int = 1000, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      permissions=["clipboard-read", "clipboard-write"])
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(url)
        page.wait_for_selector("#mn-input textarea", timeout=WAIT_MS)
        return page

    yield open_page
    for context in contexts:
        context.close()


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, wait for the complete answer; returns the answer element."""
    done = page.locator("#mn-chat .mn-disclaimer, #mn-chat .mn-error").count()
    page.fill("#mn-input textarea", question)
    page.press("#mn-input textarea", "Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#mn-chat .mn-disclaimer, #mn-chat .mn-error').length > {done}", timeout=WAIT_MS
    )
    return page.locator("#mn-chat .mn-answer").last


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "element is not rendered"
    return found


def contrast(page: Any, selector: str) -> float:
    """WCAG contrast ratio of an element's text against the background it sits on (0 if see-through)."""
    return page.evaluate(
        """(selector) => {
          const el = document.querySelector(selector);
          for (let p = el; p; p = p.parentElement) { if (getComputedStyle(p).opacity !== '1') return 0; }
          let bg = el;
          while (bg && /rgba\\(.*, 0\\)|transparent/.test(getComputedStyle(bg).backgroundColor)) bg = bg.parentElement;
          const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
          const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          const back = bg ? getComputedStyle(bg).backgroundColor : 'rgb(255, 255, 255)';
          const [a, b] = [lum(getComputedStyle(el).color), lum(back)].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }""",
        selector,
    )


def test_cited_answer_and_clicking_a_marker_reveals_its_quote(page_at: Any, app_url: str) -> None:
    page = page_at(app_url)
    answer = ask(page, PIMPLES)
    marker = answer.locator("a.mn-cite").first
    assert marker.is_visible()
    assert answer.locator(".mn-source-head strong").first.inner_text().strip()
    target = marker.get_attribute("href")
    marker.click()
    page.wait_for_function(f"location.hash === '{target}'", timeout=WAIT_MS)
    source = page.locator(target)
    chat = box(page.locator("#mn-chat"))
    quote = box(source.locator(".mn-quote"))
    assert chat["y"] <= quote["y"] and quote["y"] + quote["height"] <= chat["y"] + chat["height"], (
        "the quoted sentences were not scrolled into view"
    )
    shot(page, "citation-click.png")
    outside = [url for url in page.requests if not url.startswith(app_url.rstrip("/"))]
    assert outside == [], f"the page reached outside the app: {outside}"


def test_red_flag_notice_sits_above_the_answer(page_at: Any, app_url: str) -> None:
    page = page_at(app_url, 900, 1000)
    answer = ask(page, RED_FLAG)
    notice, body = box(answer.locator(".mn-notice-urgent")), box(answer.locator(".mn-body"))
    assert notice["y"] + notice["height"] <= body["y"]
    assert 0 <= notice["y"] < 1000, "the notice is scrolled out of sight"
    assert "Why:" in answer.locator(".mn-why").inner_text()
    for part in (".mn-notice-urgent .mn-notice-text", ".mn-body p", ".mn-quote", ".mn-disclaimer", "#mn-input label"):
        assert contrast(page, part) >= 4.5, part
    shot(page, "red-flag-answer.png")


def test_emergency_notice_is_red_and_readable(page_at: Any, app_url: str) -> None:
    page = page_at(app_url)
    answer = ask(page, EMERGENCY)
    background = answer.locator(".mn-notice-emergency").evaluate("el => getComputedStyle(el).backgroundColor")
    red, green, blue = (int(v) for v in background[background.index("(") + 1 : -1].split(",")[:3])
    assert red > 140 and green < 80 and blue < 80, background
    assert contrast(page, ".mn-notice-emergency .mn-notice-text") >= 4.5
    shot(page, "emergency-answer.png")


def test_phone_width_has_no_horizontal_scrolling(page_at: Any, app_url: str) -> None:
    page = page_at(app_url, 375, 740)
    answer = ask(page, RED_FLAG)
    width, client = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert width <= client, f"page is {width}px wide in a {client}px viewport"
    notice, body = box(answer.locator(".mn-notice")), box(answer.locator(".mn-body"))
    for part in (notice, body):
        assert part["x"] >= 0 and part["x"] + part["width"] <= 375
    assert 0 <= notice["y"] < 740 and notice["y"] + notice["height"] <= body["y"]
    shot(page, "phone-375.png")
    for more in answer.locator(".mn-more summary").all():  # a whole passage fits the width too
        more.click()
    width, client = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert width <= client, f"with the passages open the page is {width}px wide in a {client}px viewport"
    href = answer.locator(".mn-article-link a").first.get_attribute("href")
    page.goto(app_url + href)
    width, client = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert width <= client, f"the article page is {width}px wide in a {client}px viewport"


def test_keyboard_only_tab_type_enter_and_follow_a_citation(page_at: Any, app_url: str) -> None:
    page = page_at(app_url)
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.querySelector('#mn-input textarea')"):
            break
    else:
        pytest.fail("Tab never reached the question box")
    page.keyboard.type(PIMPLES)
    page.keyboard.press("Enter")
    page.wait_for_selector("#mn-chat .mn-disclaimer", timeout=WAIT_MS)
    page.locator("#mn-chat .mn-answer").last.locator("a.mn-cite").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash.includes('-src-')", timeout=WAIT_MS)


def test_copy_answer_copies_plain_text(page_at: Any, app_url: str) -> None:
    page = page_at(app_url)
    answer = ask(page, RED_FLAG)
    answer.locator(".mn-copy").click()
    page.wait_for_function("document.querySelector('.mn-copy').textContent === 'Copied'", timeout=WAIT_MS)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Urgent") and "Sources" in copied and "<" not in copied


def test_user_message_cannot_run_script_or_inject_markup(page_at: Any, app_url: str) -> None:
    page = page_at(app_url)
    ask(page, XSS)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator('#mn-chat img[src="x"]').count() == 0
    assert "<script>window.__xss=1</script>" in page.locator("#mn-chat .mn-user").last.inner_text()


def test_document_cannot_run_script_or_inject_markup(page_at: Any, hostile_server: str) -> None:
    page = page_at(hostile_server)
    answer = ask(page, "Is some redness normal after microneedling?")
    for more in answer.locator(".mn-more summary").all():  # render the whole passages too
        more.click()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("#mn-chat script").count() == 0
    # Shown as text, which proves it was escaped rather than merely stripped.
    assert '<img src=x onerror="window.__xss=1">' in " ".join(answer.locator(".mn-passage").all_inner_texts())
    assert "<script>" in " ".join(answer.locator(".mn-source-head").all_inner_texts())
    shot(page, "hostile-document.png")


def test_the_article_page_cannot_run_script_or_inject_markup(page_at: Any, hostile_server: str) -> None:
    page = page_at(hostile_server)
    answer = ask(page, "Is some redness normal after microneedling?")
    with page.context.expect_page() as opened:
        answer.locator(".mn-article-link a").first.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.url == hostile_server + "article/hostile.txt"
    assert article.evaluate("typeof window.__xss") == "undefined"
    assert article.locator('img[src="x"]').count() == 0 and article.locator("script").count() == 0
    # The article's own markup is text: title, heading and paragraphs, escaped (not stripped).
    assert article.locator("h1").inner_text() == "Redness Guide <script>window.__xss=1</script>"
    assert article.title() == "Redness Guide <script>window.__xss=1</script>"
    assert article.locator(".mn-doc-h strong").first.inner_text() == 'Redness <img src=x onerror="window.__xss=1">'
    body = article.locator("main").inner_text()
    assert 'usually fades within two days <img src=x onerror="window.__xss=1">.' in body
    assert "Sleeping with your head raised can help." in body
    shot(article, "hostile-article.png")


def test_the_quote_shows_first_the_passage_on_request_and_the_article_on_its_page(
    page_at: Any, app_url: str, real_settings: Any
) -> None:
    from assistant.corpus.cleaning import load_corpus

    page = page_at(app_url, 375, 740)
    answer = ask(page, PIMPLES)
    source = answer.locator(".mn-source").first
    quote, passage = source.locator(".mn-quote"), source.locator(".mn-passage")
    assert quote.is_visible() and quote.inner_text().strip()
    assert not passage.is_visible(), "the whole passage is shown before anyone asked for it"
    source.get_by_text("Show the whole passage").click()
    passage.wait_for(state="visible", timeout=WAIT_MS)
    assert passage.locator("mark").first.is_visible()
    assert quote.inner_text().split(" … ")[0].strip() in passage.inner_text()

    link = source.get_by_role("link", name="Read the whole article")
    href = link.get_attribute("href")
    assert href.startswith("article/") and link.get_attribute("target") == "_blank"
    assert "noopener" in (link.get_attribute("rel") or "")
    with page.context.expect_page() as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.url == app_url + href
    docs = {d.doc_id: d for d in load_corpus(real_settings.corpus_dir)[0]}
    doc = docs[href.removeprefix("article/")]
    assert article.locator("h1").inner_text() == doc.title
    text = " ".join(article.locator("main").inner_text().split())
    paragraphs = [" ".join(b.split()) for b in doc.text.split("\n\n") if len(b) > 80]
    assert paragraphs and all(p in text for p in paragraphs), "the article page misses some of the article"
    shot(article, "article-page.png")

    assert page.request.get(app_url + "article/no-such-article.txt").status == 404
    assert page.request.get(app_url + "article/..%2F..%2Fpyproject.toml").status == 404
    assert page.request.get(app_url + "article/" + "%2e%2e/" * 4 + "etc/passwd").status == 404
    # The route sits beside the guard, not instead of it.
    refused = page.request.post(app_url + "gradio_api/upload")
    assert refused.status == 403 and refused.text() == "This chat takes no files."


def test_corpus_panel_shows_the_index(page_at: Any, app_url: str, real_assistant) -> None:
    page = page_at(app_url)
    page.get_by_text("About the sources").click()
    panel = page.locator(".mn-info")
    panel.wait_for(timeout=WAIT_MS)
    assert "Documents" in panel.inner_text() and str(real_assistant.info.passages) in panel.inner_text()
    # Reloading is the operator's (a published index is picked up; SIGHUP): no button for anyone.
    assert page.get_by_role("button", name="Reload index").count() == 0


def test_feedback_is_stored_only_when_the_patient_sends_it(page_at: Any, feedback_server: tuple[str, Any]) -> None:
    url, store = feedback_server
    page = page_at(url)
    ask(page, PIMPLES)
    page.get_by_role("button", name="Dislike").last.click()
    page.get_by_role("button", name="Send feedback").wait_for(state="visible", timeout=WAIT_MS)
    assert store.rows() == [], "a rating was stored before the patient chose to send it"
    page.get_by_label("missed a warning sign").check()
    page.get_by_label("Comment (optional)").fill("I also have a fever")
    page.get_by_role("button", name="Send feedback").click()
    page.get_by_text("Thank you").wait_for(timeout=WAIT_MS)
    rows = [(r["rating"], r["reason"], r["comment"], r["question"]) for r in store.rows()]
    assert rows == [("down", "missed a warning sign", "I also have a fever", PIMPLES)]


def test_without_a_feedback_store_there_is_nothing_to_rate(page_at: Any, app_url: str) -> None:
    page = page_at(app_url)
    ask(page, PIMPLES)
    assert page.get_by_role("button", name="Dislike").count() == 0
    assert page.get_by_role("button", name="Like").count() == 0
