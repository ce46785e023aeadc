"""The Gradio chat page: ``build_app(assistant) -> gr.Blocks`` and ``launch``.

This is the one module that imports gradio, and it does so inside ``theme``,
``build_app`` and ``launch`` only: ``build_app`` must set up the private temp
folder before gradio is first imported (``serving.private_temp_dir``). What the
handlers do is ``assistant.ui.service``; what a message shows is
``assistant.ui.render``.

    demo = build_app(assistant, feedback=None)
    launch(demo, "127.0.0.1", 7860)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from assistant.ui.feedback import REASONS, FeedbackStore, Rating
from assistant.ui.render import CSS, STATIC, esc
from assistant.ui.service import Service, Session

# subtle: gradio reads this when it is first imported; the app never phones home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

if TYPE_CHECKING:
    import gradio as gr

    from assistant.pipeline import Assistant

# The chat names what its corpus is about: the subject read from the documents
# (assistant.scope.subject), or TREATMENT when an index records none.
TITLE = "Questions about {subject}"
TREATMENT = "your treatment"
EXAMPLES = (
    "Is it normal to be red and swollen two days after {treatment}?",
    "I got pimples after {treatment}. How long do they last?",
    "What are the signs of an infection after {treatment}?",
    "When can I wear makeup again after {treatment}?",
)
CHAT_CONCURRENCY = 8  # questions answered at once; the rest wait in gradio's queue, in order
_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
# The page's style (CSS, ui/static/chat.css, shared with the article pages) and script are files.
# The script copies a plain-text answer (the raw message is HTML), and shows each new answer from
# its top so an escalation notice is never scrolled out of sight.
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
