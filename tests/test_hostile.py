"""Hostile input through the real command line and the real chat server (issue #17).

Every case of ``evals/robustness.jsonl`` (huge messages, invisible and control
characters, lone surrogates, injections) plus lines no request should ever
be (bytes that are not UTF-8, JSON nested 1,000 and 100,000 deep, a byte-order
mark, NULs) go through ``assistant ask --jsonl`` as a separate process under
a strict UTF-8 locale, on the real index and model. Nothing may crash it: each
line gets an answer or its own error object, in order, and every red flag
keeps its notice. The counts go to tests/tally.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import tally
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

LEVELS = {"none": 0, "urgent": 1, "emergency": 2}
RED_FLAG = "I have a fever and pus coming out of my cheek 3 days after microneedling"
# Raw lines, as bytes: (line, red flag inside?). None of them is a valid request except the last.
RAW_LINES: list[tuple[bytes, bool]] = [
    (b"\xff\xfe{\"question\": \"is redness normal?\"}", False),  # not UTF-8
    (b'{"question": "caf\xe9 and a fever"}', False),  # latin-1, not UTF-8
    (("[" * 1000 + "]" * 1000).encode(), False),  # nested 1,000 deep: a RecursionError in json
    (("{\"a\":" * 100_000 + "1" + "}" * 100_000).encode(), False),
    (b'{"question": {"question": ' * 500 + b'"x"' + b"}" * 1000, False),
    ('\ufeff{"question": "I have a fever and pus after microneedling"}'.encode(), True),  # a byte-order mark
    (b'{"question": "fever\x00 and pus after microneedling"}', False),  # a raw NUL: invalid JSON
    (json.dumps({"question": "I have a fever\u0000 and pus after microneedling"}).encode(), True),
    (json.dumps({"question": "\ud800\udfff fever and pus after microneedling"}).encode(), True),
    (json.dumps({"question": "is redness normal?", "history": [{"role": "user", "content": "x"}] * 5000}).encode(), False),
    (json.dumps({"question": "is redness normal?", "history": "not a list"}).encode(), False),
    (b"null", False),
    (b"[]", False),
    (json.dumps({"question": RED_FLAG}).encode(), True),
]


def robustness_lines() -> list[tuple[bytes, str | None]]:
    """evals/robustness.jsonl as JSONL requests: (line, minimum tier or None)."""
    from assistant.evaluation.suites import load_suite

    suite = load_suite(ROOT / "evals" / "robustness.jsonl")
    lines = []
    for case in suite.cases:
        request = {"question": case.question, "history": [{"role": t.role, "content": t.content} for t in case.history]}
        lines.append((json.dumps(request).encode(), case.level))
    return lines


def run_jsonl(settings: Any, data: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONIOENCODING": "utf-8:strict",
                   "LANG": "en_US.UTF-8", **env}
    command = [sys.executable, "-m", "assistant.cli", "ask", "--jsonl",
               "--index", str(settings.index_dir), "--model", settings.model]
    return subprocess.run(command, input=data, capture_output=True, env=environment, timeout=600)


def test_jsonl_survives_every_hostile_line_and_keeps_every_notice(real_settings) -> None:
    cases: list[tuple[bytes, str | None]] = robustness_lines()
    cases += [(line, "urgent" if red else None) for line, red in RAW_LINES]
    tally.hostile_tried(len(cases))
    data = b"\n".join(line for line, _ in cases) + b"\n"
    done = run_jsonl(real_settings, data)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    out = done.stdout.decode("utf-8").splitlines()  # strict: every output line is UTF-8
    assert len(out) == len(cases), "every line gets exactly one object, in order"
    for number, ((line, level), text) in enumerate(zip(cases, out), start=1):
        payload = json.loads(text)
        assert isinstance(payload, dict)
        if "error" in payload:
            assert payload["line"] == number and payload["error"].startswith(f"line {number}: ")
            assert level is None, f"line {number} holds a red flag but got an error: {payload['error']}"
        else:
            assert isinstance(payload["answer"], str) and payload["triage"]["level"] in LEVELS
        escalated = level is not None and LEVELS[payload.get("triage", {}).get("level", "none")] >= LEVELS[level] \
            and bool(payload.get("notice"))
        assert level is None or escalated, f"line {number}: the red flag lost its notice"
        tally.hostile(red_flag=level is not None, escalated=escalated)


def test_a_bad_byte_does_not_lose_the_valid_line_before_it(real_settings) -> None:
    tally.hostile_tried()
    data = json.dumps({"question": RED_FLAG}).encode() + b"\n\xc3\x28\n" + json.dumps({"question": "hi"}).encode()
    done = run_jsonl(real_settings, data)
    out = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert done.returncode == 0 and len(out) == 3
    assert out[0]["notice"] and out[1] == {"error": out[1]["error"], "line": 2} and "UTF-8" in out[1]["error"]
    assert "answer" in out[2]
    tally.hostile(red_flag=True, escalated=True)


def test_an_answer_that_utf8_cannot_encode_is_written_as_escapes(real_settings, tmp_path: Path) -> None:
    """A JSON "\\ud800" decodes to a lone surrogate; echoed back it would crash a strict stdout."""
    from assistant.cli import dumps

    assert json.loads(dumps({"x": "\ud800"})) == {"x": "\ud800"}
    assert dumps({"x": "é"}) == '{"x": "é"}'
    tally.hostile_tried()
    tally.hostile()


USERS = 50
LOAD_BOUND_S = 300  # on 2 shared cores; a hang or a queue stuck behind one huge message fails it


def test_fifty_users_sending_hostile_input_at_once_all_get_answers_and_notices(app_url: str, real_assistant) -> None:
    """Every evals/robustness.jsonl case through the real chat server, 50 sessions at once,
    each also sending a red flag: no failure, no lost notice, within a time bound."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    from assistant.evaluation.suites import load_suite
    from tests.test_app import content, visible_text

    cases = list(load_suite(ROOT / "evals" / "robustness.jsonl").cases)
    notices = real_assistant.texts.notices
    clients = [Client(app_url, verbose=False) for _ in range(USERS)]
    start = threading.Barrier(USERS)
    problems: list[str] = []
    escalated: list[bool] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        case = cases[i % len(cases)]
        # A browser cannot send a lone surrogate (UTF-8 has none): it sends U+FFFD, as here.
        question = case.question.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        earlier = [(t.content, None, False) for t in case.history if t.role == "user"]  # the same session
        script = [*earlier, (question, case.level, case.raises is not None), (RED_FLAG, "urgent", False)]
        start.wait(timeout=120)
        shown = 0
        for message, level, empty in script:
            try:
                messages, _, _ = clients[i].predict(message, api_name="/chat")
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                with lock:
                    problems.append(f"user {i} ({case.id}): {type(exc).__name__}: {exc}")
                continue
            if empty:
                if len(messages) != shown:
                    with lock:
                        problems.append(f"user {i} ({case.id}): an empty message became a turn")
                continue
            shown += 2
            reply = visible_text(content(messages[-1]))
            found = []
            if len(messages) != shown:
                found.append(f"saw {len(messages)} messages, expected {shown}")
            if not reply.strip() or "Something went wrong" in reply:
                found.append(f"no answer: {reply[:80]!r}")
            kept = level is None or any(notices[t] in reply for t in ("urgent", "emergency") if t in notices)
            if level == "emergency":
                kept = notices["emergency"] in reply
            if not kept:
                found.append(f"{level} red flag lost its notice")
            with lock:
                problems.extend(f"user {i} ({case.id}): {p}" for p in found)
                if level is not None:
                    escalated.append(kept)

    tally.hostile_tried(2 * USERS)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=USERS) as pool:
        list(pool.map(user, range(USERS)))
    took = time.monotonic() - began
    assert problems == [], problems
    assert took < LOAD_BOUND_S, f"{USERS} users took {took:.0f} s"
    for flag in escalated:
        tally.hostile(red_flag=True, escalated=flag)
    for _ in range(2 * USERS - len(escalated)):
        tally.hostile()
