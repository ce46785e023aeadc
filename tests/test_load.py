"""Twenty patients at once: the real app on a loopback port, driven through gradio_client.

Every user is a separate browser session sending three messages, one of them a
labelled red flag. Under that load nothing may fail, every red flag must carry
its escalation notice, and no session may see another's conversation.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.test_app import content, visible_text

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
USERS = 20
PER_USER = 3
NORMAL = [
    "Is it normal to get pimples after microneedling?",
    "How long should the redness last after microneedling?",
    "When can I wear makeup again after microneedling?",
    "my skin is peeling 4 days after microneedling, is that ok",
    "Can I use retinol after microneedling?",
    "best pizza in Toronto",
]


def red_flags(assistant: Any) -> list[tuple[str, str]]:
    """Labelled red-flag messages (no history) that triage alone puts in their tier."""
    cases = [json.loads(line) for line in (ROOT / "evals" / "triage.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    picked = [(c["message"], c["level"]) for c in cases
              if c["level"] != "none" and not c["history"] and assistant.triager.assess(c["message"], ()).level == c["level"]]
    emergencies = [p for p in picked if p[1] == "emergency"]
    urgents = [p for p in picked if p[1] == "urgent"]
    assert len(emergencies) >= 5 and len(urgents) >= 5, "the triage eval set should hold labelled red flags"
    return emergencies[:5] + urgents[:5]


def test_twenty_simultaneous_users_get_answers_and_every_red_flag_escalated(app_url: str, real_assistant) -> None:
    from gradio_client import Client

    notices = real_assistant.texts.notices
    flags = red_flags(real_assistant)
    scripts: list[list[tuple[str, str]]] = []
    for user in range(USERS):
        script = [(NORMAL[(user + k) % len(NORMAL)], "none") for k in range(PER_USER - 1)]
        script.insert(user % PER_USER, flags[user % len(flags)])  # the red flag comes first, second or last
        scripts.append(script)
    clients = [Client(app_url, verbose=False) for _ in range(USERS)]  # one browser session each
    start = threading.Barrier(USERS)
    problems: list[str] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        start.wait(timeout=60)
        for turn, (message, level) in enumerate(scripts[i]):
            try:
                messages, textbox, _status = clients[i].predict(message, api_name="/chat")
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                with lock:
                    problems.append(f"user {i} turn {turn}: {type(exc).__name__}: {exc}")
                continue
            reply = visible_text(content(messages[-1]))
            found: list[str] = []
            if len(messages) != 2 * (turn + 1) or message not in visible_text(content(messages[-2])):
                found.append(f"saw another conversation ({len(messages)} messages)")
            if not reply.strip() or "Something went wrong" in reply:
                found.append(f"no answer: {reply[:80]!r}")
            if level != "none" and notices[level] not in reply and notices["emergency"] not in reply:
                found.append(f"{level} red flag not escalated: {message[:60]!r}")
            if found:
                with lock:
                    problems.extend(f"user {i} turn {turn}: {p}" for p in found)

    with ThreadPoolExecutor(max_workers=USERS) as pool:
        list(pool.map(user, range(USERS)))
    assert problems == []
