"""LLM answerers: grounding with fake chat models, the HTTP backends against local fake servers
and against a real one (`transformers serve`), and the real hf: loading path, each with a tiny
model built in the test.

Nothing here touches the network or downloads anything.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel

from assistant.answering.base import Candidate, Evidence

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.corpus.chunking import chunk_documents
from assistant.config import Settings
from assistant.corpus.cleaning import load_corpus
from assistant.index.embedding import HashingEmbedder
from assistant.errors import ConfigError, ModelUnavailableError
from assistant.answering.grounding import SUPPORT_THRESHOLD, support
from assistant.answering.llm import FALLBACK, LLMAnswerer, make_answerer
from assistant.safety.notices import default_texts
from assistant.schema import Chunk, Hit
from assistant.text import sentences

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
FEVER = "If you develop these symptoms within a few days after the treatment"
REDNESS = "some redness and swelling are normal as your skin responds"

# What a well-behaved model answers for passages [1]=fever, [2]=redness, and what the user then sees.
GOOD = (
    "Some redness and swelling are normal after a microneedling treatment [2]. "
    "If you develop a fever or chills within a few days after the treatment, seek medical assistance promptly. [1]"
)
GOOD_SHOWN = (
    "Some redness and swelling are normal after a microneedling treatment. [1] "
    "If you develop a fever or chills within a few days after the treatment, seek medical assistance promptly. [2]"
)
HALLUCINATED = "Take 800 mg of ibuprofen every four hours to bring the fever down [1]."
SKIP_DOCTOR = "There is no need to see a doctor for a mild fever [1]."


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; the fake servers are on 127.0.0.1 and must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    docs, _ = load_corpus(CORPUS)
    return chunk_documents(docs, 700)


def make_evidence(question: str, passages: list[Chunk]) -> Evidence:
    """Evidence as the pipeline builds it, with the hashing embedder standing in for the model."""
    embedder = HashingEmbedder()
    candidates = [
        Candidate(c, s, np.asarray(embedder.embed_query(s), dtype=np.float32), rank, pos)
        for rank, c in enumerate(passages)
        for pos, (_, _, s) in enumerate(sentences(c.text))
    ]
    hits = tuple(Hit(c, 1.0 - 0.1 * i) for i, c in enumerate(passages))
    return Evidence(question, hits, tuple(candidates), np.asarray(embedder.embed_query(question), dtype=np.float32))


@pytest.fixture(scope="module")
def evidence(chunks) -> Evidence:
    fever = next(c for c in chunks if FEVER in c.text)
    redness = next(c for c in chunks if REDNESS in c.text)
    return make_evidence("I have a fever after microneedling, is the redness normal?", [fever, redness])


@pytest.fixture()
def extractive() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(threshold=0.1, max_sentences=3)


def assert_grounded(composition) -> None:
    """Every sentence carries one valid [n] and is supported by (or quoted from) that passage."""
    assert not composition.abstained
    parts = re.findall(r"(.+?) ((?:\[\d+\])+)(?:\s|$)", composition.answer)
    assert parts and " ".join(s + " " + m for s, m in parts) == composition.answer
    assert [c.n for c in composition.citations] == list(range(1, len(composition.citations) + 1))
    for sentence, marks in parts:
        for n in map(int, re.findall(r"\d+", marks)):
            passage = composition.citations[n - 1].text
            assert sentence in passage or support(sentence, passage) >= SUPPORT_THRESHOLD, sentence
    for c in composition.citations:
        assert c.sentences and all(s in c.text for s in c.sentences)


# --- grounding with fake chat models -------------------------------------------------


def fake(*outputs: str) -> FakeListChatModel:
    return FakeListChatModel(responses=list(outputs))


def test_good_answer_passes_through_renumbered_with_highlights(evidence, extractive) -> None:
    answerer = LLMAnswerer(fake(GOOD), extractive, name="fake")
    result = answerer.run(evidence)
    assert result.composition.answerer == "fake" and result.note is None
    assert result.composition.answer == GOOD_SHOWN
    assert result.grounding.dropped == ()
    first, second = result.composition.citations
    assert REDNESS in first.text and FEVER in second.text  # renumbered in order of first use
    assert any(FEVER in s for s in second.sentences)
    assert_grounded(result.composition)
    assert result.composition.extra["grounding"] == result.to_dict()  # the report travels with the answer


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (HALLUCINATED, "unsupported"),
        ("Redness after microneedling is normal.", "no citation"),
        ("Redness after microneedling is normal [4].", "citation out of range"),
        (SKIP_DOCTOR, "discourages care"),
        ("It's nothing to worry about [2].", "discourages care"),
    ],
)
def test_a_bad_sentence_is_dropped_and_the_rest_kept(evidence, extractive, bad: str, reason: str) -> None:
    result = LLMAnswerer(fake(GOOD + " " + bad), extractive, name="fake").run(evidence)
    assert result.composition.answer == GOOD_SHOWN
    assert [d.reason for d in result.grounding.dropped] == [reason]
    assert result.grounding.to_dict()["dropped"][0]["reason"] == reason


@pytest.mark.parametrize(
    "output",
    [
        f"{HALLUCINATED} {SKIP_DOCTOR} Redness is fine [9].",
        f"Redness is normal after a microneedling treatment [2]. {HALLUCINATED} {SKIP_DOCTOR} Wait it out.",
        "",
        "   ",
    ],
    ids=["all-bad", "under-half", "empty", "blank"],
)
def test_too_little_survives_falls_back_to_the_extractive_answer(evidence, extractive, output: str) -> None:
    result = LLMAnswerer(fake(output), extractive, name="fake").run(evidence)
    expected = extractive.compose(evidence)
    assert result.composition.answerer == FALLBACK
    assert result.composition.answer == expected.answer and result.composition.citations == expected.citations
    assert result.note


def test_model_saying_sources_do_not_cover_it_abstains(evidence, extractive) -> None:
    result = LLMAnswerer(fake("My sources do not cover this."), extractive, name="fake").run(evidence)
    assert result.composition.abstained and result.composition.answerer == "fake"


class Exploding(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ConnectionError("connection refused")


def test_off_topic_question_never_reaches_the_model(evidence) -> None:
    gate = ExtractiveAnswerer(threshold=0.99)
    result = LLMAnswerer(Exploding(responses=[""]), gate, name="fake").run(evidence)
    assert result.composition.abstained and result.composition.answerer == "extractive"
    assert "not asked" in result.note


def test_exceptions_and_timeouts_fall_back_quickly(evidence, extractive) -> None:
    failing = LLMAnswerer(Exploding(responses=[""]), extractive, name="fake").run(evidence)
    assert failing.composition.answerer == FALLBACK and "ConnectionError" in failing.note

    slow = LLMAnswerer(FakeListChatModel(responses=[GOOD], sleep=5), extractive, name="fake", timeout_s=0.3)
    started = time.monotonic()
    result = slow.run(evidence)
    assert time.monotonic() - started < 1.5
    assert result.composition.answerer == FALLBACK and "within 0.3 s" in result.note


def test_system_prompt_and_numbered_passages_are_sent(evidence, extractive) -> None:
    answerer = LLMAnswerer(fake(GOOD), extractive, name="fake")
    system, user = answerer.messages(evidence)
    texts = default_texts()
    assert system.content == texts.system_prompt
    assert "[1] " in user.content and "[2] " in user.content and "[3] " not in user.content
    assert evidence.question in user.content
    assert (answerer.system_prompt_version, answerer.system_prompt_hash) == (
        texts.system_prompt_version, texts.system_prompt_hash)


def test_stream_yields_only_grounded_sentences_and_ends_with_the_composition(evidence, extractive) -> None:
    output = f"{GOOD} {HALLUCINATED} {SKIP_DOCTOR}"
    answerer = LLMAnswerer(GenericFakeChatModel(messages=iter([output])), extractive, name="fake")
    stream = answerer.stream(evidence)
    deltas = list(stream)
    assert "".join(deltas) == GOOD_SHOWN == stream.composition.answer
    assert len(deltas) == 2  # sentence by sentence
    # the grounding report travels inside the composition (it used to be fetched from the answerer)
    assert stream.composition.extra["grounding"] == stream.result.to_dict() and len(stream.result.grounding.dropped) == 2


def test_stream_failing_mid_way_falls_back(evidence, extractive) -> None:
    broken = FakeListChatModel(responses=[GOOD], error_on_chunk_number=len(GOOD) // 2 + 40)
    stream = LLMAnswerer(broken, extractive, name="fake").stream(evidence)
    deltas = list(stream)
    assert len(deltas) == 1  # the first sentence was complete and grounded before the failure
    assert stream.composition.answerer == FALLBACK
    assert stream.composition.answer == extractive.compose(evidence).answer


# --- make_answerer ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.resolve(env={})


def test_extractive_spec_returns_the_fallback(settings, extractive) -> None:
    assert make_answerer("extractive", settings, fallback=extractive) is extractive


@pytest.mark.parametrize("spec", ["gpt-4o", "anthropic:claude", "openai:", "hf", "ollama: "])
def test_unknown_spec_lists_the_valid_forms(settings, extractive, spec: str) -> None:
    with pytest.raises(ConfigError, match=r"ollama:<model>, openai:<model>, hf:<local model folder>"):
        make_answerer(spec, settings, fallback=extractive)


@pytest.mark.parametrize(
    ("spec", "module", "hint"),
    [("openai:m", "langchain_openai", '".[openai]"'), ("ollama:m", "langchain_ollama", '".[ollama]"')],
)
def test_missing_optional_package_gives_an_install_hint(monkeypatch, settings, extractive, spec, module, hint) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ConfigError, match=re.escape(f"pip install {hint}")):
        make_answerer(spec, settings, fallback=extractive, env={"OPENAI_API_KEY": "sk-x"})


def test_openai_without_key_or_base_url_says_what_to_set(settings, extractive) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_answerer("openai:gpt-4o-mini", settings, fallback=extractive, env={})


def test_hf_folder_must_exist_locally(tmp_path, settings, extractive) -> None:
    with pytest.raises(ModelUnavailableError, match="never downloaded"):
        make_answerer(f"hf:{tmp_path / 'nope'}", settings, fallback=extractive)


# --- OpenAI-compatible and Ollama backends against local fake servers -------------------

Reply = Callable[[BaseHTTPRequestHandler, dict], None]


class FakeServer:
    """An HTTP server on a free 127.0.0.1 port; ``reply`` writes the response for each POST."""

    def __init__(self, reply: Reply) -> None:
        self.requests: list[tuple[str, dict, dict]] = []
        self.release = threading.Event()  # lets a sleeping handler finish at teardown
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                try:
                    reply(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def serve() -> Iterator[Callable[[Reply], FakeServer]]:
    servers: list[FakeServer] = []

    def start(reply: Reply) -> FakeServer:
        servers.append(FakeServer(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def send(handler: BaseHTTPRequestHandler, body: bytes, content_type: str = "application/json") -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def openai_reply(content: str) -> Reply:
    def reply(handler: BaseHTTPRequestHandler, body: dict) -> None:
        if body.get("stream"):
            pieces = re.findall(r"\S+\s*", content)
            events = [{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None}]}
                      for p in pieces]
            events.append({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            send(handler, data.encode(), "text/event-stream")
            return
        send(handler, json.dumps({
            "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode())
    return reply


def ollama_reply(content: str) -> Reply:
    def reply(handler: BaseHTTPRequestHandler, body: dict) -> None:
        lines = [{"model": body["model"], "created_at": "2025-01-01T00:00:00Z",
                  "message": {"role": "assistant", "content": p}, "done": False}
                 for p in re.findall(r"\S+\s*", content)]
        lines.append({"model": body["model"], "created_at": "2025-01-01T00:00:00Z",
                      "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"})
        send(handler, "".join(json.dumps(x) + "\n" for x in lines).encode(), "application/x-ndjson")
    return reply


def sleeping(server_box: list[FakeServer], seconds: float) -> Reply:
    def reply(handler: BaseHTTPRequestHandler, body: dict) -> None:
        server_box[0].release.wait(seconds)
    return reply


def malformed(payload: bytes) -> Reply:
    def reply(handler: BaseHTTPRequestHandler, body: dict) -> None:
        send(handler, payload)
    return reply


BACKENDS = {
    "openai": (openai_reply, lambda port: {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "sk-test"}),
    "ollama": (ollama_reply, lambda port: {"OLLAMA_HOST": f"127.0.0.1:{port}"}),
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_speaks_the_wire_format_and_is_grounded(backend, serve, settings, evidence, extractive) -> None:
    reply, env = BACKENDS[backend]
    server = serve(reply(f"{GOOD} {HALLUCINATED}"))
    answerer = make_answerer(f"{backend}:tiny", settings, fallback=extractive, env=env(server.port), timeout_s=5)
    composition = answerer.compose(evidence)
    assert composition.answerer == f"{backend}:tiny"
    assert composition.answer == GOOD_SHOWN
    path, headers, body = server.requests[-1]
    assert path == {"openai": "/v1/chat/completions", "ollama": "/api/chat"}[backend]
    assert body["model"] == "tiny"
    system = body["messages"][0]
    assert (system["role"], system["content"]) == ("system", default_texts().system_prompt)
    assert "[1] " in body["messages"][1]["content"]
    if backend == "openai":
        assert headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_streams_grounded_sentences(backend, serve, settings, evidence, extractive) -> None:
    reply, env = BACKENDS[backend]
    server = serve(reply(f"{GOOD} {SKIP_DOCTOR}"))
    answerer = make_answerer(f"{backend}:tiny", settings, fallback=extractive, env=env(server.port), timeout_s=5)
    stream = answerer.stream(evidence)
    assert "".join(stream) == GOOD_SHOWN == stream.composition.answer
    assert server.requests[-1][2].get("stream") is True


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_timeout_falls_back_quickly(backend, serve, settings, evidence, extractive) -> None:
    box: list[FakeServer] = []
    box.append(serve(sleeping(box, 10)))
    answerer = make_answerer(f"{backend}:tiny", settings, fallback=extractive,
                             env=BACKENDS[backend][1](box[0].port), timeout_s=0.5)
    started = time.monotonic()
    composition = answerer.compose(evidence)
    assert time.monotonic() - started < 2.5
    assert composition.answerer == FALLBACK
    assert composition.answer == extractive.compose(evidence).answer


@pytest.mark.parametrize("payload", [b'{"choices": [{"message": ', b'{"choices": "none", "done": true}', b"<html>"],
                         ids=["truncated", "wrong-shape", "not-json"])
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_malformed_response_falls_back(backend, payload, serve, settings, evidence, extractive) -> None:
    server = serve(malformed(payload))
    answerer = make_answerer(f"{backend}:tiny", settings, fallback=extractive,
                             env=BACKENDS[backend][1](server.port), timeout_s=5)
    composed = answerer.compose(evidence)
    assert composed.answerer == FALLBACK
    assert composed.extra["grounding"]["note"]


def test_connection_refused_falls_back(settings, evidence, extractive) -> None:
    server = FakeServer(openai_reply(GOOD))
    port = server.port
    server.close()  # nothing listens on the port any more
    answerer = make_answerer("openai:tiny", settings, fallback=extractive,
                             env={"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}, timeout_s=5)
    composed = answerer.compose(evidence)
    assert composed.answerer == FALLBACK
    assert "Connection" in composed.extra["grounding"]["note"]


# --- the real hf: path, end to end, with a tiny model built here ---------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 1-layer GPT-2 with random weights and a word-level tokenizer trained on the corpus."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-chat-model")
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator([text], trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "<|eos|>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   eos_token="<|eos|>")
    # ChatHuggingFace formats messages with the tokenizer's chat template.
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    torch.manual_seed(0)
    config = GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=len(fast), n_positions=4096,
                        bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id,
                        pad_token_id=fast.pad_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def hf_answerer(tiny_model, settings):
    return make_answerer(f"hf:{tiny_model}", settings, fallback=ExtractiveAnswerer(0.1, 3), max_tokens=24)


def test_hf_folder_loads_and_answers_grounded(hf_answerer, evidence) -> None:
    assert isinstance(hf_answerer, LLMAnswerer)
    result = hf_answerer.run(evidence)
    assert result.output  # the tiny model really generated something
    assert result.composition.answerer in (FALLBACK, hf_answerer.name)
    assert_grounded(result.composition)
    stream = hf_answerer.stream(evidence)
    list(stream)
    assert_grounded(stream.composition)


def test_hf_folder_without_chat_template_is_refused(tiny_model, tmp_path, settings, extractive) -> None:
    copy = tmp_path / "no-template"
    shutil.copytree(tiny_model, copy)
    for name in ("chat_template.jinja",):
        (copy / name).unlink(missing_ok=True)
    config = json.loads((copy / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (copy / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelUnavailableError, match="chat template"):
        make_answerer(f"hf:{copy}", settings, fallback=extractive)


@pytest.fixture(scope="module")
def hashing_index(tmp_path_factory) -> Settings:
    from assistant.index.ingest import ingest

    base = tmp_path_factory.mktemp("llm-index")
    shutil.copytree(CORPUS, base / "corpus")
    settings = Settings.resolve(env={}, flags={"corpus_dir": base / "corpus", "index_dir": base / "index",
                                                "model": "hashing"})
    ingest(settings, HashingEmbedder())
    return settings


def test_red_flag_question_through_the_assistant_with_the_hf_answerer(hashing_index, tiny_model) -> None:
    from assistant.pipeline import Assistant

    fallback = ExtractiveAnswerer(0.1, hashing_index.max_sentences)
    answerer = make_answerer(f"hf:{tiny_model}", hashing_index, fallback=fallback, max_tokens=24)
    assistant = Assistant.load(hashing_index, HashingEmbedder(), answerer=answerer)
    answer = assistant.ask("I have a fever and pus after microneedling")
    assert answer.triage.level == "urgent"
    assert answer.notice == assistant.texts.notice("urgent")
    assert answer.answer and not answer.answer.startswith(answer.notice)
    assert_grounded(answer)
    assert answer.extra["grounding"]["answerer"] in (FALLBACK, answerer.name)
    assert answerer.system_prompt_hash == assistant.texts.system_prompt_hash


def test_cli_answerer_flag_loads_the_hf_folder_and_reports_the_prompt_hash(hashing_index, tiny_model, capsys) -> None:
    """The path a user configures: `assistant ask --json --answerer hf:<folder>`."""
    import json as _json

    from assistant import cli
    from assistant.safety.notices import default_texts

    code = cli.main(["ask", "--json", "--index", str(hashing_index.index_dir), "--model", "hashing",
                     "--answerer", f"hf:{tiny_model}", "I have a fever and pus after microneedling"])
    data = _json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["triage"]["level"] == "urgent" and data["notice"] == default_texts().notice("urgent")
    assert data["answerer"] in (FALLBACK, f"hf:{tiny_model}", "extractive")
    assert data["system_prompt_hash"] == default_texts().system_prompt_hash


def streaming_llm(hashing_index, question: str, passage_says: str, sentences: Sequence[str]) -> Any:
    """The assistant with a fake LLM that writes ``sentences``, each citing the passage that says
    ``passage_says`` (as the model would number it)."""
    from assistant.pipeline import Assistant

    fallback = ExtractiveAnswerer(0.1, hashing_index.max_sentences)
    assistant = Assistant.load(hashing_index, HashingEmbedder())
    evidence = assistant.prepare(question, ())[2]
    n = next(i for i, h in enumerate(evidence.hits, start=1) if passage_says in h.chunk.text)
    assistant.answerer = LLMAnswerer(fake(" ".join(f"{s} [{n}]." for s in sentences)), fallback, name="fake")
    return assistant


def test_assistant_stream_yields_grounded_text_then_the_final_answer(hashing_index) -> None:
    """Assistant.stream, as the chat uses it: provisional grounded text, then the final answer."""
    question = "How long do pimples last after microneedling?"
    assistant = streaming_llm(hashing_index, question, "within a few days to a week", [
        "These pimples are usually mild and should resolve within a few days to a week",
        "Avoid picking or squeezing the pimples"])
    frames = list(assistant.stream(question))
    assert len(frames) >= 2
    *provisional, final = frames
    assert all(f.answerer == "streaming" and f.notice is None for f in provisional)
    assert final.answerer in ("fake", FALLBACK) and final.notice is None
    assert_grounded(final)


def test_under_a_notice_the_stream_gives_only_the_shaped_final_answer(hashing_index) -> None:
    """Under an escalation notice nothing provisional is shown: the tier shapes the body once
    it is complete, so self-care an LLM writes first is never on screen, even for a moment."""
    question = "I have a fever and chills after microneedling, could it be an infection?"
    assistant = streaming_llm(hashing_index, question, "fever or chills", [
        "In rare cases, a fever or chills following microneedling could indicate an infection",
        "Seek medical assistance promptly if you develop these symptoms"])
    frames = list(assistant.stream(question))
    assert len(frames) == 1
    final = frames[0]
    assert final.notice == assistant.texts.notice("urgent") and final.answerer in ("fake", FALLBACK)
    assert "help" in assistant.roles.of(final.answer.split(" [")[0])  # a professional first
    assert_grounded(final)


# --- a real OpenAI-compatible server: `transformers serve` with a tiny model built here ---------------

ECHOED = "After a microneedling treatment, some redness and swelling are normal as your skin responds to the procedure."


def echo_model(folder: Path, sentence: str, marker: str) -> Path:
    """A causal LM that, whatever it is asked, writes ``sentence`` then ``marker``, then stops.

    Zero-layer arithmetic in a one-layer GPT-2: the blocks add nothing (their output weights
    are zero), so the last hidden state is the current token's embedding, and the output
    row of each chain word is the embedding of the word before it. Token by token the
    model follows the chain from the prompt's last word ("assistant:") to the end.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    chain = ["assistant:", *sentence.split(), marker]
    assert len(set(chain)) == len(chain), "a repeated word would make the chain ambiguous"
    vocab = {t: i for i, t in enumerate(["[UNK]", "[PAD]", "<|eos|>", *chain])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", eos_token="<|eos|>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant:{% endif %}")
    config = GPT2Config(n_layer=1, n_head=2, n_embd=256, vocab_size=len(vocab), n_positions=8192,
                        bos_token_id=vocab["<|eos|>"], eos_token_id=vocab["<|eos|>"], pad_token_id=vocab["[PAD]"],
                        tie_word_embeddings=False)
    model = GPT2LMHeadModel(config)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, weight in model.transformer.h.named_parameters():
            if "c_proj" in name:
                weight.zero_()  # attention and MLP write nothing into the residual stream
        model.transformer.wpe.weight.zero_()
        embedding = torch.nn.functional.normalize(torch.randn(len(vocab), config.n_embd), dim=-1)
        model.transformer.wte.weight.copy_(embedding)
        head = torch.zeros(len(vocab), config.n_embd)
        following = [*chain[1:], "<|eos|>"]
        for word, after in zip(chain, following):
            head[vocab[after]] = embedding[vocab[word]] * 50
        model.lm_head.weight.copy_(head)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


class TransformersServer:
    """``transformers serve`` (the transformers[serving] extra) on a loopback port, with one model."""

    def __init__(self, model: Path) -> None:
        import subprocess

        from tests.conftest import free_port

        command = Path(sys.executable).with_name("transformers")
        assert command.exists(), 'transformers serve is missing: pip install -e ".[test]" (transformers[serving])'
        self.model = str(model)  # the server answers only requests naming the model it is pinned to
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1"}
        self.proc = subprocess.Popen([str(command), "serve", str(model), "--host", "127.0.0.1", "--port", str(self.port),
                                      "--device", "cpu"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        import urllib.request

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"transformers serve exited: {self.proc.stdout.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("transformers serve did not start within 120 s")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory) -> Iterator[TransformersServer]:
    """The model answers ECHOED, citing [2]: in ``evidence``, the passage that says it."""
    server = TransformersServer(echo_model(tmp_path_factory.mktemp("echo-model"), ECHOED, "[2]"))
    yield server
    server.close()


def served(server: TransformersServer, settings: Settings, fallback: ExtractiveAnswerer) -> LLMAnswerer:
    answerer = make_answerer(f"openai:{server.model}", settings, fallback=fallback, env={"OPENAI_BASE_URL": server.url},
                             max_tokens=40, timeout_s=60)
    assert isinstance(answerer, LLMAnswerer)
    return answerer


def test_a_real_openai_compatible_server_answers_through_the_grounding_check(echo_server, settings, evidence,
                                                                             extractive) -> None:
    result = served(echo_server, settings, extractive).run(evidence)
    assert ECHOED in result.output  # written by the model, sent over HTTP by transformers serve
    assert result.composition.answerer == f"openai:{echo_server.model}" and result.note is None
    assert result.composition.answer == f"{ECHOED} [1]"  # the model's [2], renumbered for the reader
    assert_grounded(result.composition)


def test_a_real_server_streams_grounded_sentences(echo_server, settings, evidence, extractive) -> None:
    stream = served(echo_server, settings, extractive).stream(evidence)
    shown = list(stream)
    assert shown and ECHOED in shown[-1]
    assert stream.composition.answerer == f"openai:{echo_server.model}"
    assert_grounded(stream.composition)


def test_a_real_server_citing_the_wrong_passage_falls_back(echo_server, settings, chunks, extractive) -> None:
    fever = next(c for c in chunks if FEVER in c.text)
    redness = next(c for c in chunks if REDNESS in c.text)
    swapped = make_evidence("I have a fever after microneedling, is the redness normal?", [redness, fever])
    result = served(echo_server, settings, extractive).run(swapped)
    assert ECHOED in result.output  # the same sentence, now citing [2] = the fever passage
    assert result.composition.answerer == FALLBACK and result.grounding is not None
    assert [d.reason for d in result.grounding.dropped] and result.note
    assert_grounded(result.composition)


def test_the_openai_answerer_end_to_end_keeps_the_notice(echo_server, hashing_index, capsys, monkeypatch) -> None:
    """`assistant ask --answerer openai:<model>` against the real server: notice first, every time."""
    from assistant import cli

    monkeypatch.setenv("OPENAI_BASE_URL", echo_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    for question, level in (("I have a fever and pus after microneedling", "urgent"),
                            ("my throat is closing after microneedling", "emergency")):
        code = cli.main(["ask", "--json", "--index", str(hashing_index.index_dir), "--model", "hashing",
                         "--answerer", f"openai:{echo_server.model}", question])
        data = json.loads(capsys.readouterr().out)
        assert code == 0 and data["triage"]["level"] == level
        assert data["notice"] == default_texts().notice(level)
        assert data["answer"] and data["answerer"] in (f"openai:{echo_server.model}", FALLBACK, "safety")
