"""How the product is reached from outside: one source of defaults, a home folder that does
not depend on the current folder, the training questions as package data, `assistant setup`
and `assistant serve`, plain progress lines in a log, and the langchain Runnable that keeps
the safety layer."""

from __future__ import annotations

import ast
import io
import json
import shutil
from dataclasses import fields
from pathlib import Path

import pytest

from assistant import cli
from assistant.config import Settings, tuning
from assistant.errors import CorpusError
from assistant.schema import Turn

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "assistant"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- one source of defaults ----------------------------------------------------------------------


def test_settings_defaults_are_the_resolved_defaults() -> None:
    assert Settings() == Settings.resolve(env={}, flags={})
    tuned = tuning()["defaults"]
    assert {name: getattr(Settings(), name) for name in tuned} == tuned


def test_the_extractive_answerer_defaults_are_the_settings_defaults() -> None:
    from assistant.answering.extractive import ExtractiveAnswerer

    plain, product = ExtractiveAnswerer(), ExtractiveAnswerer.from_settings(Settings())
    for name in ("threshold", "max_sentences", "diversity", "spread", "single", "list_spread", "repeated_sentence"):
        assert getattr(plain, name) == getattr(product, name), name


def test_an_unknown_tuned_default_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import config

    monkeypatch.setitem(config._TUNED, "max_sentense", 3)
    with pytest.raises(config.ConfigError, match="max_sentense"):
        config._check_tuned()


# --- the home folder -----------------------------------------------------------------------------


def test_the_home_folder_holds_the_index_and_moves_it(tmp_path: Path) -> None:
    assert Settings().index_dir == Settings().home / "index"
    moved = Settings.resolve(env={"ASSISTANT_HOME": str(tmp_path)})
    assert moved.home == tmp_path and moved.index_dir == tmp_path / "index"
    assert Settings.resolve(env={"ASSISTANT_HOME": str(tmp_path)}, flags={"index_dir": "elsewhere"}).index_dir == Path("elsewhere")
    assert Settings.resolve(flags={"home": str(tmp_path / "h")}).index_dir == tmp_path / "h" / "index"


def test_from_any_folder_a_newcomer_gets_one_next_step(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    code, _, err = run(["ask", "is redness normal", "--home", str(home), "--model", "hashing"], capsys)
    assert code != 0 and "assistant ingest --corpus FOLDER" in err and str(home / "index") in err
    code, _, err = run(["ingest", "--home", str(home), "--model", "hashing"], capsys)
    assert code == CorpusError.exit_code and "assistant ingest --corpus FOLDER" in err
    assert "Traceback" not in err
    # With the default model, still untrained in this home: the next step, not a minute of training.
    for command in (["ask", "is redness normal"], ["serve", "--port", "1"]):
        code, out, err = run([*command, "--home", str(home)], capsys)
        assert code != 0 and "assistant ingest --corpus FOLDER" in err and "Training" not in out + err
    assert not (home / "models").exists()


def test_the_index_remembers_its_corpus_for_the_next_ingest(tmp_path: Path, capsys, monkeypatch) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(ROOT / "corpus", corpus)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    flags = ["--home", str(tmp_path / "home"), "--model", "hashing"]
    code, out, _ = run(["ingest", "--corpus", str(corpus), *flags], capsys)
    assert code == 0
    manifest_dir = tmp_path / "home" / "index"
    current = (manifest_dir / "CURRENT").read_text().strip()
    assert json.loads((manifest_dir / current / "manifest.json").read_text())["corpus_dir"] == str(corpus.resolve())
    (corpus / "extra.md").write_text("# Microneedling aftercare at home\n\n## Cleansing\n\n"
                                     "Keep the skin clean and use a gentle cleanser after microneedling.\n")
    code, out, _ = run(["ingest", *flags], capsys)  # no --corpus: the folder the index was built from
    assert code == 0 and "Indexed 4 documents" in out and "1 embedded" in out, out
    code, out, _ = run(["ask", "is redness normal after treatment", "--json", *flags], capsys)
    assert code == 0 and json.loads(out)["citations"]
    shutil.rmtree(corpus)
    code, _, err = run(["ingest", *flags], capsys)
    assert code == CorpusError.exit_code and str(corpus.resolve()) in err and "--corpus FOLDER" in err


# --- the training questions are package data --------------------------------------------------------


def test_the_packaged_training_questions_are_the_tune_split_of_the_eval_set() -> None:
    from assistant.evaluation.training import QUESTIONS, to_jsonl, training_questions
    from assistant.index.embedding.finetune import TRAINING_FILE, read_training

    expected = training_questions(ROOT / QUESTIONS)
    assert read_training(TRAINING_FILE) == expected, "run: python -m assistant.evaluation.training"
    assert TRAINING_FILE.read_text(encoding="utf-8") == to_jsonl(expected)
    assert TRAINING_FILE.is_relative_to(SRC)  # inside the package, so a wheel carries it


def test_nothing_but_the_eval_command_imports_the_eval_package() -> None:
    importers = []
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "evaluation") or path == SRC / "cli" / "eval.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "assistant.evaluation" or n.startswith("assistant.evaluation.") for n in names):
                importers.append(str(path.relative_to(SRC)))
    assert importers == []


def test_a_training_file_that_is_not_training_questions_says_so(tmp_path: Path) -> None:
    from assistant.errors import DataFileError
    from assistant.index.embedding.finetune import read_training

    bad = tmp_path / "t.jsonl"
    bad.write_text('{"question": "ok", "gold": ["A."]}\n{"question": "", "gold": ["B."]}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2"):
        read_training(bad)


# --- setup and serve -------------------------------------------------------------------------------


def test_setup_on_a_ready_model_trains_nothing_and_names_the_next_step(tmp_path: Path, capsys, monkeypatch) -> None:
    from assistant.index.embedding import finetune

    monkeypatch.setattr(finetune, "fine_tune", lambda *a, **k: pytest.fail("a trained model was trained again"))
    code, out, err = run(["setup", "--index", str(tmp_path / "none")], capsys)
    assert code == 0 and "is ready" in out and "assistant ingest --corpus FOLDER" in out
    assert "Training" not in out + err


def test_app_py_is_the_serve_command() -> None:
    code = [line for line in (ROOT / "app.py").read_text().splitlines() if line and not line.startswith('"""')]
    assert len(code) <= 3 and any('main(["serve"' in line for line in code)


def test_serve_without_an_index_says_how_to_build_one(tmp_path: Path, capsys) -> None:
    code, _, err = run(["serve", "--index", str(tmp_path / "none"), "--model", "hashing", "--port", "1"], capsys)
    assert code != 0 and "assistant ingest" in err


def test_serve_reads_its_flags_once() -> None:
    args = cli.build_parser().parse_args(["serve", "--feedback-db", "fb.sqlite", "--mode", "bm25", "--port", "8000"])
    assert args.feedback_db == "fb.sqlite" and args.mode == "bm25"
    assert cli.settings_from(args, env={}).port == 8000


# --- progress in a log ---------------------------------------------------------------------------------


def test_progress_off_a_terminal_is_a_few_plain_lines() -> None:
    from assistant.progress import Bar

    out = io.StringIO()
    bar = Bar("Embedding", 1000, "passage", out)
    for done in range(1, 1001):
        bar.update(done, 1000)
    bar.close()
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 11 and "\r" not in out.getvalue()
    assert lines[-1] == "Embedding: 1000 of 1000 passages (100%)"


# --- the langchain Runnable keeps the safety layer ----------------------------------------------------------


@pytest.mark.integration
def test_the_runnable_gives_the_notice_through_a_chain(real_assistant) -> None:
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    chain = ({"question": RunnablePassthrough(), "history": RunnableLambda(lambda _: [])}
             | real_assistant.as_runnable()
             | RunnableLambda(lambda answer: (answer["triage"]["level"], answer["notice"])))
    tier, notice = chain.invoke("my throat is closing")
    assert tier == "emergency" and notice and notice == real_assistant.ask("my throat is closing").notice
    answer = real_assistant.as_runnable().invoke({"question": "is it still normal?", "history": [
        {"role": "user", "content": "my face is red two days after microneedling"}]})
    expected = real_assistant.ask("is it still normal?", [Turn("user", "my face is red two days after microneedling")])
    keys = ("notice", "answer", "triage", "citations")
    assert {k: answer[k] for k in keys} == {k: expected.to_dict()[k] for k in keys} and answer["citations"]
    batch = real_assistant.as_runnable().batch(["I have a fever and pus", "can I wear makeup tomorrow"])
    assert [a["triage"]["level"] for a in batch] == ["urgent", "none"]
    with pytest.raises(ValueError, match='"question"'):
        real_assistant.as_runnable().invoke({"text": "hi"})


@pytest.mark.integration
def test_the_retriever_documents_carry_the_provenance_of_citations(real_assistant) -> None:
    question = "how long does redness last after microneedling"
    cited = {c.chunk_id: c.to_dict() for c in real_assistant.ask(question).citations}
    docs = real_assistant.as_langchain_retriever(k=5).invoke(question)
    assert docs and any(d.id in cited for d in docs)
    for doc in docs:
        assert {"title", "section", "page", "stale", "doc", "chunk_id"} <= set(doc.metadata)
        if doc.id in cited:
            c = cited[doc.id]
            assert {k: doc.metadata[k] for k in ("title", "section", "page", "stale", "doc")} == \
                   {k: c[k] for k in ("title", "section", "page", "stale", "doc")}
            assert doc.page_content == c["text"]
