"""The command line: JSON schema, JSONL streaming, and errors without tracebacks."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import cli
from assistant.index.locations import LocalLocation, open_served
from assistant.index.embedding import HashingEmbedder

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def base_args(settings) -> list[str]:
    return ["--index", str(settings.index_dir), "--model", "hashing"]


def test_ask_json(hashing_settings, capsys) -> None:
    code, out, _ = run(["ask", "--json", *base_args(hashing_settings), "I have a fever after microneedling"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["triage"]["level"] == "urgent"
    assert data["notice"]
    assert isinstance(data["citations"], list)


def test_ask_text_for_a_person(hashing_settings, capsys) -> None:
    # The hashing embedder only knows shared words, so ask in the article's own words.
    question = "a fever or chills following microneedling could indicate an infection"
    code, out, _ = run(["ask", *base_args(hashing_settings), question], capsys)
    assert code == 0
    assert out.startswith("!! ")
    assert "Sources:" in out


def test_jsonl_keeps_order_and_reports_bad_lines(hashing_settings, capsys, monkeypatch) -> None:
    lines = [
        json.dumps({"question": "is redness normal after microneedling"}),
        "{not json",
        json.dumps({"question": 42}),
        "",
        json.dumps({"question": "what should I do?", "history": [{"role": "user", "content": "I have pus"}]}),
        json.dumps({"question": "x", "history": [{"role": "system", "content": "hi"}]}),
        json.dumps({"question": "  "}),
    ]
    code, out, _ = run(["ask", "--jsonl", *base_args(hashing_settings)], capsys, "\n".join(lines) + "\n", monkeypatch)
    assert code == 0
    objs = [json.loads(x) for x in out.splitlines()]
    assert len(objs) == 6
    assert "answer" in objs[0]
    assert objs[1]["error"].startswith("line 2: not valid JSON")
    assert "question" in objs[2]["error"]
    assert objs[3]["triage"]["level"] == "urgent"
    assert "role" in objs[4]["error"]
    assert "empty" in objs[5]["error"]


def test_no_index_is_one_clear_line(tmp_path: Path, capsys) -> None:
    code, _, err = run(["ask", "--index", str(tmp_path / "none"), "--model", "hashing", "hello"], capsys)
    assert code == 1
    assert err.startswith("error: No index at") and "assistant ingest" in err
    assert "Traceback" not in err


def test_empty_question(hashing_settings, capsys) -> None:
    code, _, err = run(["ask", *base_args(hashing_settings), "  "], capsys)
    assert code == 2 and "empty" in err


def test_missing_model(tmp_path: Path, capsys) -> None:
    code, _, err = run(["ingest", "--corpus", str(ROOT / "corpus"), "--index", str(tmp_path), "--model", str(tmp_path / "no-model")], capsys)
    assert code == 1
    assert "does not exist" in err and "--model" in err


def test_bad_setting_from_environment(capsys, monkeypatch) -> None:
    monkeypatch.setenv("ASSISTANT_K", "lots")
    code, _, err = run(["ask", "hello"], capsys)
    assert code == 2 and "k=" in err


def test_ingest_twice_changes_nothing_and_reports_skips(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for src in (ROOT / "corpus").iterdir():
        (corpus / src.name).write_bytes(src.read_bytes())
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00\x00garbage")
    args = ["ingest", "--corpus", str(corpus), "--index", str(tmp_path / "idx"), "--model", "hashing"]
    code, out, _ = run(args, capsys)
    assert code == 0 and "Skipped broken.txt" in out
    store = open_served(LocalLocation(tmp_path / "idx"), HashingEmbedder())
    before = sorted(store.passage_ids())
    code, out, _ = run(args, capsys)
    assert code == 0 and "(0 embedded" in out
    assert sorted(open_served(LocalLocation(tmp_path / "idx"), HashingEmbedder()).passage_ids()) == before


@pytest.mark.integration
def test_console_script_end_to_end(real_settings) -> None:
    """The installed `assistant` command, the real model, a real index, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_INDEX"] = str(real_settings.index_dir)
    exe = Path(sys.executable).with_name("assistant")
    proc = subprocess.run(
        [str(exe), "ask", "--jsonl"],
        input=json.dumps({"question": "my lips are swelling up and I can't breathe"}) + "\n"
        + json.dumps({"question": "how long do pimples last after microneedling"}) + "\n",
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    first, second = [json.loads(x) for x in proc.stdout.splitlines()]
    assert first["triage"]["level"] == "emergency"
    assert second["citations"] and not second["abstained"]


def test_feedback_export_makes_eval_cases(tmp_path: Path, capsys) -> None:
    from assistant.ui import feedback as fb

    store = fb.FeedbackStore(tmp_path / "fb.sqlite")
    missed = {"notice": None, "answer": "Redness is normal. [1]", "triage": {"level": "none", "signals": []},
              "abstained": False, "citations": []}
    store.add(fb.Feedback("down", "my cheek is hot and red on day 4", (), missed, fb.MISSED_WARNING, "missed it"))
    out = tmp_path / "evals" / "feedback.jsonl"
    code, stdout, _ = run(["feedback", "export", "--db", str(store.path), "--out", str(out)], capsys)
    assert code == 0 and "Wrote 1 eval case" in stdout
    case = json.loads(out.read_text(encoding="utf-8"))
    assert case["question"] == "my cheek is hot and red on day 4" and case["level"] == "urgent"
    code, _, err = run(["feedback", "export", "--db", str(tmp_path / "none.sqlite"), "--out", str(out)], capsys)
    assert code == 1 and "No feedback database" in err and "--feedback-db" in err
