"""The real app on a loopback port, answered through gradio_client.

Uses the session's real index and model (``real_assistant`` in conftest.py),
so what is tested is what a patient gets: real triage, retrieval and answers,
rendered by the UI and sent over Gradio's own API.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

pytestmark = pytest.mark.integration

RED_FLAG = "I have a fever and pus coming out of my cheek 3 days after microneedling"
PIMPLES = "Is it normal to get pimples after microneedling?"
OUT_OF_SCOPE = "best pizza in Toronto"


@pytest.fixture()
def client(app_url: str) -> Any:
    from gradio_client import Client

    return Client(app_url, verbose=False)  # a new client is a new browser session


def content(message: dict[str, Any]) -> str:
    """A chatbot message's content as one string (Gradio 6 may send a list of parts)."""
    value = message["content"]
    if isinstance(value, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in value)
    return str(value)


def visible_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def ask(client: Any, message: str) -> tuple[list[dict[str, Any]], str]:
    messages, textbox, status = client.predict(message, api_name="/chat")
    assert textbox == ""
    if isinstance(status, dict):  # the status line is sent as an update that also shows or hides it
        status = status.get("value") or ""
    return messages, status


def test_red_flag_reply_shows_the_urgent_notice_before_the_answer(client: Any, real_assistant) -> None:
    messages, _ = ask(client, RED_FLAG)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    reply = content(messages[-1])
    text = visible_text(reply)
    notice = real_assistant.texts.notices["urgent"]
    assert notice in text
    assert 'class="mn-notice mn-notice-urgent"' in reply
    assert "Why:" in text and "fever" in text.split("Why:")[1]
    first_sentence = real_assistant.ask(RED_FLAG).answer.split(" [")[0]
    assert text.index(notice) < text.index(first_sentence)


def test_normal_question_gets_a_cited_answer_with_its_source_title(client: Any, real_assistant) -> None:
    expected = real_assistant.ask(PIMPLES)
    assert expected.citations
    messages, _ = ask(client, PIMPLES)
    reply = content(messages[-1])
    assert "mn-notice" not in reply
    assert re.search(r'<a class="mn-cite" href="#(a\w+)-src-1"[^>]*>\[1\]</a>', reply)
    assert html.escape(expected.citations[0].title) in reply
    assert "<mark>" in reply
    assert html.escape(real_assistant.texts.disclaimer) in reply


def test_out_of_scope_abstains_without_sources(client: Any, real_assistant) -> None:
    expected = real_assistant.ask(OUT_OF_SCOPE)
    assert expected.abstained and expected.scope.decision == "not covered"
    messages, _ = ask(client, OUT_OF_SCOPE)
    reply = content(messages[-1])
    assert expected.answer in visible_text(reply) and "do not cover" in expected.answer
    assert "mn-sources" not in reply and "mn-cite" not in reply


def test_empty_message_gets_a_prompt_not_a_turn(client: Any) -> None:
    messages, status = ask(client, "   ")
    assert messages == [] and "type your question" in status


def test_conversation_history_carries_to_the_next_question(client: Any) -> None:
    ask(client, "i got pimples after microneedling")
    messages, _ = ask(client, "how long do they last?")
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert "mn-cite" in content(messages[-1])


def test_reload_is_not_a_public_endpoint(client: Any) -> None:
    """Anyone could call /reload and slow every patient down; only the operator reloads now."""
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/chat" in endpoints and "/reload" not in endpoints
    with pytest.raises(Exception):
        client.predict(api_name="/reload")
