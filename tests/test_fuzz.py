"""Fuzzing with hypothesis: whatever a patient types, the assistant answers in its schema.

``Assistant.ask`` runs on a hashing-embedder index of the bundled corpus, built
once for the module (hypothesis reruns a test many times; a function-scoped
fixture would be rebuilt for nothing). Inputs are arbitrary unicode (lone
surrogates included, which JSON input can carry), up to 20,000 characters,
blank, or laced with red-flag words. Bounded: about 200 examples per test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.cli import answer_jsonl
from assistant.errors import EmptyQuestionError
from assistant.schema import LEVELS, Turn
from assistant.safety import Triager

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RED_WORDS = ["fever", "pus", "can't breathe", "throat swelling", "spreading redness", "chills", "no fever",
             "hives", "bleeding", "2 weeks", "not", "microneedling", "fièvre", "fiebre", "?", "\n", "I'm fine"]
# Every code point, lone surrogates included: json.loads('"\\ud800"') hands one to ask().
ANY_CHAR = st.characters(codec=None, exclude_categories=())
TEXT = st.text(ANY_CHAR, max_size=300)
HUGE = st.builds(lambda piece, n: (piece * n)[:20_000], st.text(ANY_CHAR, min_size=1, max_size=40),
                 st.integers(min_value=200, max_value=20_000))
WORDY = st.lists(st.one_of(st.sampled_from(RED_WORDS), TEXT), max_size=12).map(" ".join)
BLANK = st.text(st.sampled_from(" \t\n\r\u00a0\u2003\u3000"), max_size=20)
MESSAGE = st.one_of(TEXT, WORDY, HUGE, BLANK)
TRIAGER = Triager.from_file()
HISTORY = st.lists(st.builds(Turn, st.sampled_from(["user", "assistant"]), st.one_of(TEXT, WORDY)), max_size=4)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from assistant.config import Settings
    from assistant.index.embedding import HashingEmbedder
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    base = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "corpus", base / "corpus")
    config = Settings.resolve(env={}, flags={"corpus_dir": base / "corpus", "index_dir": base / "index", "model": "hashing"})
    ingest(config, HashingEmbedder())
    return Assistant.load(config, HashingEmbedder())


def assert_answer_schema(payload: dict[str, Any]) -> None:
    """The README's JSON answer schema, and that it serialises."""
    assert payload["notice"] is None or isinstance(payload["notice"], str)
    assert isinstance(payload["answer"], str) and payload["answer"].strip()
    assert payload["triage"]["level"] in LEVELS
    assert isinstance(payload["triage"]["signals"], list)
    assert all(isinstance(s, str) for s in payload["triage"]["signals"])
    assert (payload["notice"] is None) == (payload["triage"]["level"] == "none")
    assert isinstance(payload["abstained"], bool)
    assert isinstance(payload["citations"], list)
    for n, c in enumerate(payload["citations"], start=1):
        assert c["n"] == n
        assert all(isinstance(c[k], str) for k in ("doc", "title", "section", "text"))
        assert isinstance(c["score"], float)
    if payload["abstained"]:
        assert payload["citations"] == []
    json.dumps(payload)


@FUZZ
@given(message=MESSAGE, history=HISTORY)
def test_ask_always_answers_in_schema(assistant: Any, message: str, history: list[Turn]) -> None:
    if not message.strip():
        with pytest.raises(EmptyQuestionError):
            assistant.ask(message, history)
        return
    assert_answer_schema(assistant.ask(message, history).to_dict())


@settings(max_examples=1000, deadline=None)
@given(message=st.one_of(TEXT, WORDY, BLANK), history=HISTORY)
def test_triage_never_raises_and_is_deterministic(message: str, history: list[Turn]) -> None:
    first = TRIAGER.assess(message, history)
    assert first.level in LEVELS
    assert all(isinstance(s, str) for s in first.signals)
    if first.level != "none":
        assert first.signals, "an escalation says why"
    assert TRIAGER.assess(message, history) == first


@settings(max_examples=50, deadline=None)
@given(message=HUGE)
def test_triage_of_huge_messages(message: str) -> None:
    assert TRIAGER.assess(message, ()).level in LEVELS


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
REQUEST = st.fixed_dictionaries(
    {"question": st.one_of(MESSAGE, JSON_VALUE)},
    optional={"history": st.one_of(
        st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", ""]),
                                        "content": st.one_of(TEXT, JSON_VALUE)}), max_size=3),
        JSON_VALUE)},
)
LINE = st.one_of(
    TEXT,  # not JSON at all
    JSON_VALUE.map(json.dumps),  # JSON, but not a request
    REQUEST.map(json.dumps),
    REQUEST.map(lambda r: json.dumps(r, ensure_ascii=False)),
)


@FUZZ
@given(lines=st.lists(LINE, max_size=6))
def test_answer_jsonl_writes_one_json_object_per_non_blank_line(assistant: Any, lines: list[str]) -> None:
    # subtle: a line from a file never holds a newline; split what hypothesis made as a reader would.
    lines = [part for line in lines for part in line.split("\n")]
    out = list(answer_jsonl(assistant.ask, lines))
    assert len(out) == sum(1 for line in lines if line.strip())
    for text in out:
        payload = json.loads(text)
        assert isinstance(payload, dict)
        if "error" in payload:
            assert isinstance(payload["error"], str) and isinstance(payload["line"], int)
        else:
            assert_answer_schema(payload)

