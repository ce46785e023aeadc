"""End-to-end performance benchmark: one command, a printed table and a JSON file.

    .venv/bin/python benchmarks/bench.py [--out benchmarks/results.json] [--quick]

Everything runs against temporary copies (corpus, indexes, ONNX exports) that
are deleted at the end; nothing is downloaded. Timings on a small shared
machine are noisy: compare the RATIOS measured in the same run (pipeline vs.
embedding alone, ingest vs. raw encode, onnx vs. torch), not absolute numbers
across runs. Sections (each one's failure is recorded and the rest carry on):

- ingest     full ingest of the bundled corpus vs. raw SentenceTransformer.encode
             of the same texts; re-ingest of the unchanged corpus (CLI subprocess)
             with an import-time breakdown
- cold       process start to first answer: `assistant ask` (median of 3), and
             `python app.py` until a gradio_client predict returns
- warm       per-question latency of Assistant.ask over the eval test split,
             beside embed_query alone, with a per-stage breakdown
- load       N simultaneous chat users through gradio_client (red-flag messages
             mixed in: every one must carry its escalation notice)
- scale      index of 1k / 10k / 100k synthetic passages (see synth_chunks for how
             their vectors are made): build time, query latency, process RSS
- docs1000   ingest of 1,000 synthetic small documents with real embeddings
- onnx       torch vs. @onnx vs. @onnx-int8: export cost, query-embedding latency,
             ingest throughput, cold start, warm ask, vector agreement and
             retrieval quality (Recall@k, MRR) on the eval test split

``--quick`` skips the 100k scale level and the 1,000-document ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import DEFAULT_MODEL
from assistant.index.embedding import split_backend
from assistant.home import Home

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "evals" / "questions.jsonl"
TRIAGE_CASES = ROOT / "evals" / "triage.jsonl"
MODEL = DEFAULT_MODEL  # what the product runs; every section but "onnx" uses it
BASE_MODEL = split_backend(MODEL)[0]
BACKENDS = ("torch", "onnx", "onnx-int8")
SPECS = {"torch": BASE_MODEL, "onnx": f"{BASE_MODEL}@onnx", "onnx-int8": f"{BASE_MODEL}@onnx-int8"}
PY = sys.executable
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") and k not in ("CHROMA_HOST", "CHROMA_PORT")},
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
os.environ.update({k: ENV[k] for k in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")})
for _name in [n for n in os.environ if n.startswith("ASSISTANT_")]:
    del os.environ[_name]  # the benchmark measures the defaults, not the developer's settings


# ---------------------------------------------------------------- helpers


def now() -> float:
    return time.perf_counter()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def dist_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "max_ms": round(max(ms), 2)}


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident memory now and at its peak (Linux /proc)."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_questions() -> list[dict[str, Any]]:
    return [q for q in read_jsonl(QUESTIONS) if q.get("split") == "test"]


def settings_for(corpus: Path, index: Path, model: str = MODEL) -> Any:
    from assistant.config import Settings

    return Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": index, "model": model})


def corpus_chunks(settings: Any) -> list[Any]:
    """The passages of the settings' corpus, whatever state its index is in."""
    from assistant.corpus.chunking import chunk_documents
    from assistant.corpus.cleaning import load_corpus

    return chunk_documents(load_corpus(settings.corpus_dir)[0], settings.chunk_size)


def cli(*args: str) -> list[str]:
    script = Path(PY).parent / "assistant"
    return [str(script), *args] if script.exists() else [PY, "-m", "assistant.cli", *args]


def timed_run(cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300) -> float:
    started = now()
    proc = subprocess.run(list(cmd), env=env or ENV, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    elapsed = now() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return elapsed


def median_run(cmd: Sequence[str], runs: int = 3, env: dict[str, str] | None = None) -> dict[str, Any]:
    times = [timed_run(cmd, env) for _ in range(runs)]
    return {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}


HEAVY = ("torch", "transformers", "sentence_transformers", "langchain_huggingface", "chromadb", "langchain_chroma",
         "langchain_core", "langchain_text_splitters", "gradio", "onnxruntime", "tokenizers", "numpy", "scipy",
         "sklearn", "rank_bm25", "trafilatura", "pypdf", "docx", "lxml", "yaml", "tqdm", "huggingface_hub",
         "pydantic", "opentelemetry", "httpx", "charset_normalizer")


def import_profile(code: str, top: int = 12, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``python -X importtime``: total, the heaviest top-level imports, and who first pulls in each heavy package."""
    proc = subprocess.run([PY, "-X", "importtime", "-c", code], env=env or ENV, capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    rows: list[tuple[int, int, str]] = []  # (depth, cumulative us, module)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if m:
            rows.append((len(m.group(3)) // 2, int(m.group(2)), m.group(4)))
    # subtle: importtime prints a module after its children, so a module's parent is
    # the next line (forward) one level up: walk backwards keeping the last name per depth.
    chain_of: dict[str, list[str]] = {}
    stack: dict[int, str] = {}
    for depth, _, name in reversed(rows):
        stack[depth] = name
        for d in [d for d in stack if d > depth]:
            del stack[d]
        chain_of.setdefault(name, [stack[d] for d in sorted(stack)])
    cumulative = {}
    for _, us, name in rows:
        cumulative.setdefault(name, us)
    total = sum(us for depth, us, _ in rows if depth == 0)
    heavy = sorted(((cumulative[h], h) for h in HEAVY if h in cumulative), reverse=True)
    return {
        "total_import_s": round(total / 1e6, 3),
        "top_level": [{"module": n, "s": round(us / 1e6, 3)}
                      for us, n in sorted(((us, n) for d, us, n in rows if d == 0), reverse=True)[:top]],
        "heavy_packages": [{"package": h, "s": round(us / 1e6, 3), "pulled_in_by": " > ".join(chain_of[h][:-1][:4])}
                           for us, h in heavy],
    }


# ---------------------------------------------------------------- the shared fixture


class Bench:
    """The temporary workspace, the real model loaded once, and the base index."""

    def __init__(self, work: Path) -> None:
        from assistant.index.embedding import load_embedder

        self.work = work
        self.corpus = work / "corpus"
        shutil.copytree(CORPUS, self.corpus)
        started = now()
        self.embedder = load_embedder(MODEL)  # an ONNX model is exported here, into HOME's cache
        self.first_load_s = now() - started
        if split_backend(MODEL)[1] != "torch":
            started = now()
            self.embedder = load_embedder(MODEL)
        self.embedder.embed_query("warm up")
        self.model_load_s = now() - started
        self.settings = settings_for(self.corpus, work / "index")
        self.questions = eval_questions()
        self._st: Any = None

    @property
    def sentence_transformer(self) -> Any:
        """The raw SentenceTransformer, for the encode baseline (the embedder's own when reachable)."""
        if self._st is None:
            inner = getattr(getattr(self.embedder, "_inner", None), "_client", None)
            if inner is None or not hasattr(inner, "encode"):
                from sentence_transformers import SentenceTransformer

                from assistant.index.embedding import resolve_model

                inner = SentenceTransformer(str(resolve_model(BASE_MODEL)), device="cpu")
            self._st = inner
        return self._st

    def assistant(self, settings: Any | None = None, embedder: Any | None = None) -> Any:
        from assistant.pipeline import Assistant

        return Assistant.load(settings or self.settings, embedder or self.embedder)


# ---------------------------------------------------------------- sections


def bench_ingest(b: Bench) -> dict[str, Any]:
    from assistant.corpus.chunking import embedding_text
    from assistant.index.ingest import ingest, make_plan, sentence_records

    started = now()
    report = ingest(b.settings, b.embedder)
    ingest_s = now() - started
    chunks = corpus_chunks(b.settings)
    chunk_texts = [embedding_text(c) for c in chunks]
    sentence_texts = [r.text for c in chunks for r in sentence_records(c)]
    started = now()
    b.embedder.embed_documents(chunk_texts + sentence_texts)
    raw_all_s = now() - started
    st = b.sentence_transformer
    started = now()
    st.encode(chunk_texts, batch_size=32, normalize_embeddings=True)
    st_chunks_s = now() - started
    started = now()
    st.encode(chunk_texts + sentence_texts, batch_size=32, normalize_embeddings=True)
    st_all_s = now() - started

    started = now()
    for _ in range(5):
        make_plan(b.settings)
    plan_s = (now() - started) / 5
    reingest = median_run(cli("ingest", "--index", str(b.settings.index_dir), "--corpus", str(b.corpus)))
    interpreter = median_run([PY, "-c", "pass"])
    import_cli = median_run([PY, "-c", "import assistant.cli"])
    profile = import_profile(
        "import sys; from assistant.cli import main; "
        f"sys.exit(main(['ingest', '--index', {str(b.settings.index_dir)!r}, '--corpus', {str(b.corpus)!r}]))"
    )
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": len(sentence_texts),
        "full_ingest_s": round(ingest_s, 3),
        "chunks_per_s": round(report.chunks / ingest_s, 1),
        "texts_per_s": round((report.chunks + len(sentence_texts)) / ingest_s, 1),
        "model": MODEL,
        "raw_embed_documents_chunks_and_sentences_s": round(raw_all_s, 3),
        "ingest_over_raw_embedding_of_same_texts": round(ingest_s / raw_all_s, 2),
        "sentence_transformers_encode_chunks_s": round(st_chunks_s, 3),
        "sentence_transformers_encode_chunks_per_s": round(len(chunk_texts) / st_chunks_s, 1),
        "sentence_transformers_encode_chunks_and_sentences_s": round(st_all_s, 3),
        "ingest_over_sentence_transformers_encode": round(ingest_s / st_all_s, 2),
        "note": "ingest embeds every passage AND every sentence of it (answers quote sentences), "
                "so compare it with embedding chunks+sentences: raw with the same embedder, and raw "
                "SentenceTransformer.encode (torch)",
        "reingest_unchanged_cli": reingest,
        "reingest_target_s": 1.0,
        "reingest_in_process_plan_s": round(plan_s, 3),
        "python_startup_s": interpreter["median_s"],
        "import_assistant_cli_s": import_cli["median_s"],
        "reingest_importtime": profile,
    }


def bench_cold(b: Bench) -> dict[str, Any]:
    question = "Is it normal to have pimples after microneedling?"
    ask = median_run(cli("ask", "--index", str(b.settings.index_dir), question))
    profile = import_profile(
        "import sys; from assistant.cli import main; "
        f"sys.exit(main(['ask', '--index', {str(b.settings.index_dir)!r}, {question!r}]))"
    )
    return {"ask_cli": ask, "ask_importtime": profile}


def bench_warm(b: Bench, rounds: int = 2) -> dict[str, Any]:
    """Each question as new (query-embedding cache cleared), beside embed_query of the same text."""
    assistant = b.assistant()
    questions = [q["question"] for q in b.questions]
    for q in questions[:3]:
        assistant.ask(q)
    ask_s: list[float] = []
    embed_s: list[float] = []
    scope_s: list[float] = []
    for _ in range(rounds):
        for q in questions:
            query = assistant.retrieval_query(q)
            started = now()
            b.embedder.embed_query(query)
            embed_s.append(now() - started)
            assistant._encode.cache_clear()  # a new question pays for its embedding
            started = now()
            assistant.ask(q)
            ask_s.append(now() - started)
            scope_s.append(scope_cost(assistant, q, query))
    stages = stage_breakdown(assistant, questions)
    ask, embed, scope = dist_ms(ask_s), dist_ms(embed_s), dist_ms(scope_s)
    return {
        "questions": len(questions),
        "rounds": rounds,
        "ask": ask,
        "embed_query": embed,
        "scope": scope,  # the refusal check and the scope decision, its words embedded afresh
        "scope_ratio_p50": round(scope["p50_ms"] / embed["p50_ms"], 2),
        "scope_ratio_p95": round(scope["p95_ms"] / embed["p95_ms"], 2),
        "scope_ratio_target": 2.0,
        "ratio_p50": round(ask["p50_ms"] / embed["p50_ms"], 2),
        "ratio_p95": round(ask["p95_ms"] / embed["p95_ms"], 2),
        "ratio_target": 2.0,
        "ratio_target_with_semantic_triage": 2.5,  # the semantic triage layer is on, as shipped
        "stages_p50_ms": stages,
    }


def bench_triage(b: Bench, rounds: int = 3) -> dict[str, Any]:
    """Triage alone, warm, over every message of the triage suites (evals/triage*.jsonl):
    the rules and their context (with spelling and languages, no model), then every layer
    as the product runs it (the semantic layer on), beside embed_query of the same messages.
    Targets: rules and context p95 <= 5 ms; the semantic layer's share is in the warm ask ratio."""
    from assistant.safety import Triager

    messages = [json.loads(line)["message"] for path in sorted((ROOT / "evals").glob("triage*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rules = Triager.from_file()
    assistant = b.assistant()
    for m in messages:  # warm-up: regex caches, the language model, the spelling index
        rules.assess(m)
        assistant.triager.assess(m)
    timed: dict[str, list[float]] = {"rules_and_context": [], "all_layers": [], "embed_query": []}
    for _ in range(rounds):
        for m in messages:
            started = now(); rules.assess(m); timed["rules_and_context"].append(now() - started)  # noqa: E702
            assistant._encode.cache_clear()  # the semantic layer pays for its sentences' embedding
            started = now(); assistant.triager.assess(m); timed["all_layers"].append(now() - started)  # noqa: E702
            started = now(); b.embedder.embed_query(m[:2000]); timed["embed_query"].append(now() - started)  # noqa: E702
    out: dict[str, Any] = {"messages": len(messages), "rounds": rounds}
    out.update({name: dist_ms(values) for name, values in timed.items()})
    out["rules_p95_target_ms"] = 5.0
    return out


def scope_cost(assistant: Any, question: str, query: str) -> float:
    """Seconds the scope step takes for one question, its retrieval already done; the words
    it embeds are embedded afresh (the product embeds them in triage's batch)."""
    hits = assistant.collapse(assistant.retriever.retrieve(query, assistant.settings.k * 2))[: assistant.settings.k]
    evidence = assistant._evidence(query, hits)
    assistant._encode.cache_clear()
    started = now()
    if assistant.scope.refusal(question) is None:
        assistant.decide(question, evidence, assistant.index)
    return now() - started


def stage_breakdown(assistant: Any, questions: Sequence[str]) -> dict[str, float]:
    """Median time of each stage ask() goes through (hybrid asks each retriever for 4 * 2k passages)."""
    depth = assistant.settings.k * 2
    times: dict[str, list[float]] = {k: [] for k in ("triage", "expand_query", "embed_query", "bm25", "vector_search",
                                                     "hybrid_retrieve", "collapse+compose", "ask_total")}
    # collapse+compose: collapsing, reading the question, composing and shaping the answer.
    for q in questions:
        started = now(); assistant.triager.assess(q, ()); times["triage"].append(now() - started)  # noqa: E702
        started = now(); query = assistant.retrieval_query(q); times["expand_query"].append(now() - started)  # noqa: E702
        started = now(); vec = assistant.embedder.embed_query(query); times["embed_query"].append(now() - started)  # noqa: E702
        started = now(); assistant.retrievers["bm25"].retrieve(query, depth * 4); times["bm25"].append(now() - started)  # noqa: E702
        started = now(); assistant.store.search(vec, depth * 4); times["vector_search"].append(now() - started)  # noqa: E702
        assistant._encode.cache_clear()
        started = now(); hits = assistant.retriever.retrieve(query, depth); times["hybrid_retrieve"].append(now() - started)  # noqa: E702
        started = now()
        kept = assistant.collapse(hits)[: assistant.settings.k]
        evidence = assistant._evidence(query, kept, reading=assistant.roles.read(q))
        # Shaped as under an urgent notice, the tier whose shaping does the most work.
        assistant.shaper.shape(assistant.answerer.compose(evidence), evidence, "urgent")
        times["collapse+compose"].append(now() - started)
        assistant._encode.cache_clear()
        started = now(); assistant.ask(q); times["ask_total"].append(now() - started)  # noqa: E702
    return {k: round(statistics.median(v) * 1000, 2) for k, v in times.items()}


# -- the app, cold start and load


def content(message: dict[str, Any]) -> str:
    value = message.get("content", "")
    if isinstance(value, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value)
    return str(value)


def visible_text(markup: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", markup))


class App:
    """``python app.py`` on a free loopback port, as a patient would reach it."""

    def __init__(self, b: Bench) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = (b.work / f"app-{self.port}.log").open("w")
        self.started = now()
        self.proc = subprocess.Popen(
            [PY, "app.py", "--index", str(b.settings.index_dir), "--corpus", str(b.corpus), "--port", str(self.port)],
            env=ENV, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_first_answer(self, timeout: float = 240) -> dict[str, float]:
        from gradio_client import Client

        listening = None
        deadline = self.started + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited {self.proc.returncode}; see its log")
            if listening is None:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                        listening = now() - self.started
            if listening is not None:
                try:
                    messages, *_ = Client(self.url, verbose=False).predict("Is redness normal?", api_name="/chat")
                    if messages and content(messages[-1]):
                        return {"port_open_s": round(listening, 3), "first_answer_s": round(now() - self.started, 3)}
                except Exception:  # noqa: BLE001 - not ready yet
                    pass
            time.sleep(0.2)
        raise TimeoutError(f"no answer from app.py within {timeout} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def load_messages(n_red: int = 12) -> list[tuple[str, str]]:
    """(message, expected tier): eval questions (tier none) and labelled red flags that triage catches alone."""
    from assistant.safety import Triager

    triager = Triager.from_file()
    red = [(c["message"], c["level"]) for c in read_jsonl(TRIAGE_CASES)
           if c["level"] != "none" and not c["history"] and triager.assess(c["message"], ()).level == c["level"]]
    normal = [(q["question"], "none") for q in eval_questions()]
    rng = random.Random(7)
    return rng.sample(red, min(n_red, len(red))) + normal


def bench_load(app: App, users: int, per_user: int) -> dict[str, Any]:
    from gradio_client import Client

    from assistant.safety.notices import default_texts

    notices = default_texts().notices
    messages = load_messages()
    red = [m for m in messages if m[1] != "none"]
    normal = [m for m in messages if m[1] == "none"]
    rng = random.Random(11)
    scripts = []
    for u in range(users):
        # Every user sends at least one red flag; about a third of all messages are red flags.
        script = [rng.choice(red)] + [rng.choice(red) if rng.random() < 0.3 else rng.choice(normal)
                                      for _ in range(per_user - 1)]
        rng.shuffle(script)
        scripts.append(script)
    clients = [Client(app.url, verbose=False) for _ in range(users)]
    barrier = threading.Barrier(users)
    latencies: list[float] = []
    reply_bytes: list[int] = []  # one answer's HTML, as the chat sends it
    history_bytes: list[int] = []  # the whole chat, which gradio sends again with every update
    errors: list[str] = []
    missed: list[str] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        barrier.wait()
        for message, level in scripts[i]:
            started = now()
            try:
                out, *_ = clients[i].predict(message, api_name="/chat")
                reply = visible_text(content(out[-1]))
                elapsed = now() - started
                with lock:
                    reply_bytes.append(len(content(out[-1]).encode("utf-8")))
                    history_bytes.append(sum(len(content(m).encode("utf-8")) for m in out))
                problem = None if reply.strip() and "Something went wrong" not in reply else "empty or error reply"
            except Exception as exc:  # noqa: BLE001
                elapsed, reply, problem = now() - started, "", f"{type(exc).__name__}: {exc}"
            escalated = level == "none" or notices[level] in reply or (level == "urgent" and notices["emergency"] in reply)
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(f"user {i}: {problem}")
                elif not escalated:
                    missed.append(f"user {i}: {level}: {message[:60]}")

    rss_before = rss_mb(app.proc.pid)
    app_cpu, own_cpu = cpu_s(app.proc.pid), time.process_time()
    started = now()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    wall = now() - started
    app_cpu_end, own_cpu = cpu_s(app.proc.pid), time.process_time() - own_cpu
    # subtle: closed-loop users with no pause between messages keep every CPU busy, so latency
    # is about users / throughput, and throughput is CPUs / (app + load generator CPU per request).
    per_request = max(len(latencies), 1)
    return {
        "users": users,
        "messages_per_user": per_user,
        "requests": len(latencies),
        "red_flag_requests": sum(1 for s in scripts for _, level in s if level != "none"),
        "errors": len(errors),
        "error_samples": errors[:5],
        "red_flags_not_escalated": len(missed),
        "not_escalated_samples": missed[:5],
        "latency": dist_ms(latencies),
        "reply_kb": {"p50": round(percentile(reply_bytes, 50) / 1024, 1) if reply_bytes else 0,
                     "max": round(max(reply_bytes, default=0) / 1024, 1)},
        "history_kb_max": round(max(history_bytes, default=0) / 1024, 1),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2),
        "app_cpu_ms_per_request": round((app_cpu_end - app_cpu) * 1000 / per_request, 1)
        if app_cpu is not None and app_cpu_end is not None else None,
        "load_generator_cpu_ms_per_request": round(own_cpu * 1000 / per_request, 1),
        "app_rss_before": rss_before,
        "app_rss_after": rss_mb(app.proc.pid),
        "note": "latency is until the whole reply has arrived (the UI sends an extractive answer whole, "
                "at once); the load generator shares the machine's CPUs with the app",
    }


# -- scale


def synth_chunks(base: Any, n: int, seed: int = 0) -> tuple[list[Any], dict[str, list[str]]]:
    """``n`` passages made by recombining 2-5 real sentences of the bundled corpus.

    Returns the chunks and, per chunk id, its sentences (real sentences, so their
    real vectors can be reused exactly).
    """
    from assistant.schema import Chunk
    from assistant.text import sentences as split_sentences

    rng = random.Random(seed)
    chunks_in = base["chunks"]
    sentences = base["sentences"]
    out: list[Any] = []
    parts: dict[str, list[str]] = {}
    for i in range(n):
        like = rng.choice(chunks_in)
        while True:  # keep combinations the sentence splitter reads back as the same sentences
            picked = [rng.choice(sentences) for _ in range(rng.randint(2, 5))]
            text = " ".join(picked)
            if [t for _, _, t in split_sentences(text)] == picked:
                break
        doc = f"synthetic-{i // 10:05d}.txt"
        cid = f"syn{i:06d}"
        out.append(Chunk(cid, doc, f"{like.title} ({i // 10})", like.section, text, 0, len(text)))
        parts[cid] = picked
    return out, parts


def scale_build(n: int, base_index: Path, folder: Path, real_vectors: bool) -> dict[str, Any]:
    """Build an index of ``n`` synthetic passages through the Store API (see bench_scale for how)."""
    from langchain_core.embeddings import Embeddings

    from assistant.corpus.chunking import embedding_text
    from assistant.index.derived import Derived
    from assistant.index.embedding import load_embedder
    from assistant.index.ingest import index_config, location_of
    from assistant.index.store import LocalLocation, SentenceRecord, open_served

    embedder = load_embedder(MODEL)
    base_settings = settings_for(CORPUS, base_index)
    base_store = open_served(location_of(base_settings), embedder)
    records, vectors = base_store.sentence_table()
    sentence_vec: dict[str, np.ndarray] = {}
    for r, v in zip(records, vectors):
        sentence_vec.setdefault(r.text, v)
    chunks, parts = synth_chunks({"chunks": base_store.chunks(), "sentences": sorted(sentence_vec)}, n)

    started = now()
    texts = [embedding_text(c) for c in chunks]
    if real_vectors:
        passage_vecs = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    else:
        # Approximation: the mean of the passage's real sentence vectors, plus small
        # Gaussian noise, renormalised. Cheap, and close to what the model gives.
        passage_vecs = np.stack([np.mean([sentence_vec[s] for s in parts[c.chunk_id]], axis=0) for c in chunks])
        passage_vecs += np.random.default_rng(0).normal(0.0, 0.01, passage_vecs.shape).astype(np.float32)
        passage_vecs /= np.linalg.norm(passage_vecs, axis=1, keepdims=True)
    lookup: dict[str, list[float]] = {t: v.tolist() for t, v in sentence_vec.items()}
    lookup.update({t: v.tolist() for t, v in zip(texts, passage_vecs)})
    vectors_s = now() - started

    class Lookup(Embeddings):
        """Hands the Store the vectors made above, as if a model had computed them."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [lookup[t] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    location = LocalLocation(folder)
    started = now()
    store = location.new_generation(None, Lookup())
    for i in range(0, len(chunks), 1000):  # <= 5,000 sentences: under Chroma's largest batch
        batch = chunks[i : i + 1000]
        store.add_passages(batch, [embedding_text(c) for c in batch])
        store.add_sentences([SentenceRecord(f"{c.chunk_id}:{j:03d}", c.chunk_id, s)
                             for c in batch for j, s in enumerate(parts[c.chunk_id])])
    build_s = now() - started
    started = now()
    Derived.build(store).save(location.derived_dir(store.generation))  # as ingest does before publishing
    derived_s = now() - started
    docs: dict[str, dict[str, Any]] = {}
    for c in chunks:
        docs.setdefault(c.doc_id, {"title": c.title, "hash": c.doc_id, "metadata": {}, "chunk_ids": []})["chunk_ids"].append(c.chunk_id)
    # What ingest records, from the function ingest uses: Assistant.load checks it (the model version too).
    location.publish(store.generation, {"config": index_config(base_settings),
                                        "corpus_version": f"synthetic-{n}", "documents": docs, "passages": n})
    return {
        "passages": n,
        "sentences": sum(len(p) for p in parts.values()),
        "passage_vectors": "real (model)" if real_vectors else "approx: mean of real sentence vectors + noise",
        "vectors_s": round(vectors_s, 2),
        "build_index_s": round(build_s, 2),
        "build_derived_files_s": round(derived_s, 2),
    }


def scale_serve(folder: Path, queries: int) -> dict[str, Any]:
    """In a fresh process: load the model, then the Assistant on the index, then ask."""
    from assistant.index.embedding import load_embedder
    from assistant.pipeline import Assistant

    embedder = load_embedder(MODEL)
    embedder.embed_query("warm up")
    rss_model = rss_mb()
    started = now()
    assistant = Assistant.load(settings_for(CORPUS, folder), embedder)
    load_s = now() - started
    rss_loaded = rss_mb()
    questions = [q["question"] for q in eval_questions()][:queries]
    for q in questions[:3]:
        assistant.ask(q)
    ask_s = []
    for q in questions:
        assistant._encode.cache_clear()
        started = now()
        assistant.ask(q)
        ask_s.append(now() - started)
    stages = stage_breakdown(assistant, questions[:15])
    return {
        "load_assistant_s": round(load_s, 2),
        "ask": dist_ms(ask_s),
        "stages_p50_ms": stages,
        "rss_model_only_mb": rss_model.get("rss_mb"),
        "rss_loaded_mb": rss_loaded.get("rss_mb"),
        "rss_after_queries": rss_mb(),
    }


def worker_json(cmd: Sequence[str]) -> dict[str, Any]:
    proc = subprocess.run(list(cmd), env=ENV, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-1500:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_scale(b: Bench, sizes: Sequence[int], real_up_to: int = 1000) -> dict[str, Any]:
    out: dict[str, Any] = {
        "method": "passages recombine 2-5 real corpus sentences (their real vectors are reused); "
                  f"passage vectors come from the model up to {real_up_to} passages, above that they are "
                  "the mean of the passage's real sentence vectors plus N(0, 0.01) noise, renormalised, "
                  "inserted through Store.add_passages/add_sentences. One fresh process per size.",
    }
    for n in sizes:
        folder = b.work / f"scale-{n}"
        worker = [PY, str(Path(__file__).resolve()), "--scale-worker", str(n), "--dir", str(folder)]
        build = worker + ["--phase", "build", "--base-index", str(b.settings.index_dir)]
        started = now()
        try:
            row = worker_json(build + (["--real-vectors"] if n <= real_up_to else []))
            row.update(worker_json(worker + ["--phase", "serve"]))
            row["worker_wall_s"] = round(now() - started, 1)
        except Exception as exc:  # noqa: BLE001 - the next size may still work
            row = {"error": str(exc)[-1500:]}
        out[str(n)] = row
        shutil.rmtree(folder, ignore_errors=True)
    return out


def bench_docs1000(b: Bench, n_docs: int = 1000) -> dict[str, Any]:
    """Ingest ``n_docs`` small synthetic articles (a title and three real corpus sentences) with the real model."""
    from assistant.corpus.cleaning import load_corpus
    from assistant.index.ingest import ingest, make_plan, sentence_records
    from assistant.text import sentences as split_sentences

    rng = random.Random(3)
    pool = sorted({s for d in load_corpus(b.corpus)[0] for _, _, s in split_sentences(d.text)
                   if len(s) > 40 and not s.endswith(":")})
    corpus = b.work / "corpus1000"
    corpus.mkdir()
    for i in range(n_docs):
        body = [f"Aftercare note {i:04d}", "", " ".join(rng.sample(pool, 3)), ""]
        (corpus / f"note-{i:04d}.txt").write_text("\n".join(body), encoding="utf-8")
    settings = settings_for(corpus, b.work / "index-1000docs")
    started = now()
    plan = make_plan(settings)
    plan_s = now() - started
    started = now()
    report = ingest(settings, b.embedder, plan=plan)
    ingest_s = plan_s + now() - started
    reingest = median_run(cli("ingest", "--index", str(settings.index_dir), "--corpus", str(corpus)), runs=1)
    return {
        "documents": report.documents,
        "skipped": len(report.skipped),
        "chunks": report.chunks,
        "sentences": sum(len(sentence_records(c)) for c in plan.chunks),
        "ingest_s": round(ingest_s, 2),
        "of_which_plan_s": round(plan_s, 2),
        "chunks_per_s": round(report.chunks / ingest_s, 1),
        "reingest_unchanged_cli": reingest,
    }


# -- onnx


def bench_onnx(b: Bench, cold_runs: int = 3) -> dict[str, Any]:
    """torch vs. @onnx vs. @onnx-int8 on the same texts, same machine, same run."""
    from assistant.corpus.chunking import embedding_text
    from assistant.index.embedding import load_embedder
    from assistant.index.ingest import ingest, sentence_records
    from assistant.schema import Turn
    from assistant.text import contains_sentence

    out: dict[str, Any] = {"specs": SPECS, "export_timing": "into a fresh folder; then loaded from HOME's cache"}
    embedders: dict[str, Any] = {}
    for backend in BACKENDS:
        if backend != "torch":
            started = now()
            load_embedder(SPECS[backend], cache_dir=b.work / "export-timing")  # first use: export (and quantise)
            out.setdefault(backend, {})["first_load_with_export_s"] = round(now() - started, 2)
        started = now()
        embedders[backend] = b.embedder if SPECS[backend] == MODEL else load_embedder(SPECS[backend])
        embedders[backend].embed_query("warm up")
        loaded = b.model_load_s if SPECS[backend] == MODEL else now() - started
        out.setdefault(backend, {})["load_s"] = round(loaded, 3)

    assistant = b.assistant()  # only for the retrieval query text, which is backend-independent
    queries = [assistant.retrieval_query(q["question"]) for q in b.questions]
    for e in embedders.values():
        e.embed_query(queries[0])
    # Blocks of each backend in turn, three times: load on the machine hits every backend
    # alike, and one backend's threads are idle while another's are timed.
    lat: dict[str, list[float]] = {k: [] for k in embedders}
    for _ in range(3):
        for name, e in embedders.items():
            for q in queries:
                started = now()
                e.embed_query(q)
                lat[name].append(now() - started)

    chunks = corpus_chunks(b.settings)
    texts = [embedding_text(c) for c in chunks]
    reference = np.asarray(embedders["torch"].embed_documents(texts))
    busy = under_contention(embedders, queries[:30])
    # What ingest embeds (every passage and every sentence), backends in turn, three times.
    batch = texts + [r.text for c in chunks for r in sentence_records(c)]
    rates: dict[str, list[float]] = {k: [] for k in embedders}
    for _ in range(3):
        for name, e in embedders.items():
            started = now()
            e.embed_documents(batch)
            rates[name].append(len(batch) / (now() - started))
    out["torch_threads"] = torch_threads(embedders["torch"], queries, texts)
    question = "Is it normal to have pimples after microneedling?"
    assistants: dict[str, Any] = {}
    for name, e in embedders.items():
        spec = SPECS[name]
        settings = settings_for(b.corpus, b.work / f"cmp-{name}", spec)
        started = now()
        report = ingest(settings, e)
        ingest_s = now() - started
        cos = (np.asarray(e.embed_documents(texts)) * reference).sum(axis=1)
        assistants[name] = a = b.assistant(settings, e)
        quality = {mode: retrieval_quality(a, b.questions, mode, contains_sentence, Turn) for mode in ("dense", "hybrid")}
        cold = median_run(cli("ask", "--index", str(settings.index_dir), "--model", spec, question), cold_runs)
        out.setdefault(name, {}).update({
            "query_embed": dist_ms(lat[name]),
            "query_embed_one_busy_process": busy[name],
            "encode_texts_per_s": round(statistics.median(rates[name]), 1),
            "ingest_s": round(ingest_s, 3),
            "ingest_chunks_per_s": round(report.chunks / ingest_s, 1),
            "cosine_to_torch": {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)},
            "cold_ask_cli": cold,
            "retrieval": quality,
        })
    ask_s: dict[str, list[float]] = {k: [] for k in assistants}
    for _ in range(2):
        for name, a in assistants.items():
            for q in b.questions:
                a._encode.cache_clear()
                started = now()
                a.ask(q["question"])
                ask_s[name].append(now() - started)
    for name in assistants:
        out[name]["warm_ask"] = dist_ms(ask_s[name])
        out[name]["ask_over_embed_p50"] = round(out[name]["warm_ask"]["p50_ms"] / out[name]["query_embed"]["p50_ms"], 2)
    out["torch_1_thread_query_embed_one_busy_process"] = busy["torch_1_thread"]
    out["bm25_retrieval"] = retrieval_quality(assistant, b.questions, "bm25", contains_sentence, Turn)
    out["cold_ask_import_onnx"] = import_profile(
        "import sys; from assistant.cli import main; "
        f"sys.exit(main(['ask', '--index', {str(b.work / 'cmp-onnx')!r}, '--model', {SPECS['onnx']!r}, {question!r}]))",
    )
    return out


def under_contention(embedders: dict[str, Any], queries: Sequence[str]) -> dict[str, dict[str, float]]:
    """Query-embedding latency while one other CPU-bound process runs (a second app worker,
    an ingest, a test run): what a small shared server sees."""
    import torch

    default = torch.get_num_threads()
    spinner = subprocess.Popen([PY, "-c", "while True: pass"])
    lat: dict[str, list[float]] = {k: [] for k in [*embedders, "torch_1_thread"]}
    try:
        time.sleep(0.5)
        for _ in range(2):
            for name in lat:
                torch.set_num_threads(1 if name == "torch_1_thread" else default)
                e = embedders.get(name, embedders["torch"])
                for q in queries:
                    started = now()
                    e.embed_query(q)
                    lat[name].append(now() - started)
    finally:
        torch.set_num_threads(default)
        spinner.kill()
        spinner.wait()
    return {k: dist_ms(v) for k, v in lat.items()}


def torch_threads(embedder: Any, queries: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
    """torch at its default thread count vs. one thread (OpenMP threads on a busy small machine wait on each other)."""
    import torch

    default = torch.get_num_threads()
    lat: dict[int, list[float]] = {default: [], 1: []}
    encode: dict[int, list[float]] = {default: [], 1: []}
    try:
        for _ in range(2):
            for threads in lat:
                torch.set_num_threads(threads)
                for q in queries[:40]:
                    started = now()
                    embedder.embed_query(q)
                    lat[threads].append(now() - started)
                started = now()
                embedder.embed_documents(list(texts))
                encode[threads].append(len(texts) / (now() - started))
    finally:
        torch.set_num_threads(default)
    return {f"threads_{t}": {"query_embed": dist_ms(lat[t]), "chunks_per_s": round(statistics.median(encode[t]), 1)}
            for t in lat}


def retrieval_quality(assistant: Any, cases: Sequence[dict[str, Any]], mode: str, contains: Callable[..., bool],
                      turn: Any) -> dict[str, float]:
    """Recall@k (a case counts when a top-k passage holds a gold sentence) and MRR over the top 10."""
    firsts: list[int | None] = []
    for case in cases:
        history = [turn(t["role"], t["content"]) for t in case.get("history", [])]
        hits = assistant.retrievers[mode].retrieve(assistant.retrieval_query(case["question"], history), 10)
        firsts.append(next((r for r, h in enumerate(hits, 1) if any(contains(h.chunk.text, g) for g in case["gold"])), None))
    n = len(firsts)
    return {
        "cases": n,
        **{f"recall@{k}": round(sum(1 for r in firsts if r and r <= k) / n, 4) for k in (1, 3, 5, 10)},
        "mrr@10": round(sum(1 / r for r in firsts if r) / n, 4),
    }


# ---------------------------------------------------------------- table


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []

    def add(metric: str, value: Any, note: str = "") -> None:
        rows.append((metric, fmt(value), note))

    def get(*path: str) -> Any:
        node: Any = results
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        return node

    for name in ("ingest", "cold", "warm", "triage", "app", "load", "scale", "docs1000", "onnx"):
        if get(name, "error"):
            add(f"{name}: FAILED", get(name, "error").splitlines()[-1][:80])
    if get("ingest", "chunks"):
        i = results["ingest"]
        add("ingest: bundled corpus", f"{i['documents']} docs, {i['chunks']} chunks, {i['sentences']} sentences")
        add("ingest: full, s", i["full_ingest_s"], f"{i['chunks_per_s']} chunks/s, {i['texts_per_s']} texts/s")
        add("  raw embed_documents, same texts, s", i["raw_embed_documents_chunks_and_sentences_s"],
            f"ingest / raw = {i['ingest_over_raw_embedding_of_same_texts']}x ({i['model']})")
        add("  SentenceTransformer.encode chunks, s", i["sentence_transformers_encode_chunks_s"],
            f"{i['sentence_transformers_encode_chunks_per_s']} chunks/s (torch)")
        add("  SentenceTransformer.encode chunks+sentences, s", i["sentence_transformers_encode_chunks_and_sentences_s"],
            f"ingest / encode = {i['ingest_over_sentence_transformers_encode']}x")
        add("re-ingest unchanged (CLI), s", i["reingest_unchanged_cli"]["median_s"], "target <= 1 s")
        add("  of which python start / import assistant.cli, s", f"{i['python_startup_s']} / {i['import_assistant_cli_s']}")
        add("  of which imports (importtime), s", i["reingest_importtime"]["total_import_s"],
            ", ".join(f"{h['package']} {h['s']}" for h in i["reingest_importtime"]["heavy_packages"][:4]))
        add("  of which plan (in process), s", i["reingest_in_process_plan_s"])
    if get("cold", "ask_cli"):
        c = results["cold"]
        add("cold start: assistant ask, s", c["ask_cli"]["median_s"], f"runs {c['ask_cli']['runs_s']}")
        add("  imports (importtime), s", c["ask_importtime"]["total_import_s"],
            ", ".join(f"{h['package']} {h['s']}" for h in c["ask_importtime"]["heavy_packages"][:4]))
    if get("app", "first_answer_s"):
        add("cold start: app.py to first answer, s", results["app"]["first_answer_s"],
            f"port open at {results['app']['port_open_s']} s")
    if get("warm", "ask"):
        w = results["warm"]
        add("warm ask p50 / p95, ms", f"{w['ask']['p50_ms']} / {w['ask']['p95_ms']}", f"{w['questions']} test questions x {w['rounds']}")
        add("embed_query p50 / p95, ms", f"{w['embed_query']['p50_ms']} / {w['embed_query']['p95_ms']}")
        add("ratio ask / embed (p50)", w["ratio_p50"], "target <= 2x; <= 2.5x with semantic triage (on)")
        if "scope" in w:
            add("scope p50 / p95, ms", f'{w["scope"]["p50_ms"]} / {w["scope"]["p95_ms"]}',
                f'ratio to embed_query {w["scope_ratio_p50"]} / {w["scope_ratio_p95"]}; target <= 2x')
        add("  stages p50, ms", ", ".join(f"{k} {v}" for k, v in w["stages_p50_ms"].items()))
    if get("triage", "messages"):
        t = results["triage"]
        add("triage: rules and context p50 / p95, ms", f"{t['rules_and_context']['p50_ms']} / "
            f"{t['rules_and_context']['p95_ms']}", f"{t['messages']} messages x {t['rounds']}; target p95 <= 5 ms")
        add("triage: all layers p50 / p95, ms", f"{t['all_layers']['p50_ms']} / {t['all_layers']['p95_ms']}",
            f"embed_query of the same messages {t['embed_query']['p50_ms']} / {t['embed_query']['p95_ms']}")
    if get("load", "requests"):
        lo = results["load"]
        add(f"load: {lo['users']} users x {lo['messages_per_user']} msgs", f"errors {lo['errors']}",
            f"red flags not escalated {lo['red_flags_not_escalated']} of {lo['red_flag_requests']}")
        add("load: latency p50 / p95, ms", f"{lo['latency']['p50_ms']} / {lo['latency']['p95_ms']}",
            f"{lo['throughput_rps']} req/s; app RSS {lo['app_rss_after'].get('rss_mb')} MB")
    for n, s in (get("scale") or {}).items():
        if not isinstance(s, dict):
            continue
        if "error" in s:
            add(f"scale {n}: FAILED", s["error"].splitlines()[-1][:80])
            continue
        add(f"scale {n}: ask p50 / p95, ms", f"{s['ask']['p50_ms']} / {s['ask']['p95_ms']}",
            f"RSS {s['rss_loaded_mb']} MB loaded (model only {s['rss_model_only_mb']}), peak "
            f"{s['rss_after_queries'].get('peak_rss_mb')}; build {s['build_index_s']} s, load {s['load_assistant_s']} s")
        add("  stages p50, ms", ", ".join(f"{k} {v}" for k, v in s["stages_p50_ms"].items()))
    if get("docs1000", "documents"):
        d = results["docs1000"]
        add(f"ingest {d['documents']} docs ({d['chunks']} chunks), s", d["ingest_s"],
            f"{d['chunks_per_s']} chunks/s; of which plan {d['of_which_plan_s']} s; "
            f"re-ingest unchanged {d['reingest_unchanged_cli']['median_s']} s")
    lines = []
    width = max((len(r[0]) for r in rows), default=10)
    vwidth = min(max((len(r[1]) for r in rows), default=10), 40)
    for metric, value, note in rows:
        lines.append(f"{metric:<{width}}  {value:>{vwidth}}  {note}".rstrip())
    o = results.get("onnx") or {}
    if "torch" in o and "query_embed" in o.get("torch", {}):
        lines += ["", f"{'ONNX comparison':<36}" + "".join(f"{b:>16}" for b in BACKENDS)]

        def orow(label: str, pick: Callable[[dict[str, Any]], Any]) -> None:
            cells = []
            for backend in BACKENDS:
                try:
                    cells.append(fmt(pick(o[backend])))
                except (KeyError, TypeError):
                    cells.append("-")
            lines.append(f"{label:<36}" + "".join(f"{c:>16}" for c in cells))

        orow("export (first use), s", lambda r: r["first_load_with_export_s"])
        orow("load (export cached), s", lambda r: r["load_s"])
        orow("query embed p50, ms", lambda r: r["query_embed"]["p50_ms"])
        orow("query embed p95, ms", lambda r: r["query_embed"]["p95_ms"])
        orow("query embed p50, 1 busy process, ms", lambda r: r["query_embed_one_busy_process"]["p50_ms"])
        orow("encode passages+sentences, texts/s", lambda r: r["encode_texts_per_s"])
        orow("ingest corpus, chunks/s", lambda r: r["ingest_chunks_per_s"])
        orow("warm ask p50, ms", lambda r: r["warm_ask"]["p50_ms"])
        orow("warm ask p95, ms", lambda r: r["warm_ask"]["p95_ms"])
        orow("ask / embed (p50)", lambda r: r["ask_over_embed_p50"])
        orow("cold ask (CLI), s", lambda r: r["cold_ask_cli"]["median_s"])
        orow("cosine to torch, mean", lambda r: r["cosine_to_torch"]["mean"])
        orow("cosine to torch, min", lambda r: r["cosine_to_torch"]["min"])
        for mode in ("dense", "hybrid"):
            for metric in ("recall@1", "recall@5", "mrr@10"):
                orow(f"{mode} {metric}", lambda r, m=mode, x=metric: r["retrieval"][m][x])
        for key, row in (o.get("torch_threads") or {}).items():
            lines.append(f"(torch {key.replace('_', ' ')}: query embed p50 {row['query_embed']['p50_ms']} ms, "
                         f"p95 {row['query_embed']['p95_ms']} ms; encode {row['chunks_per_s']} chunks/s)")
        one = o.get("torch_1_thread_query_embed_one_busy_process") or {}
        if one:
            lines.append(f"(torch 1 thread with 1 busy process: query embed p50 {one['p50_ms']} ms, p95 {one['p95_ms']} ms)")
        imp = o.get("cold_ask_import_onnx") or {}
        if imp:
            lines.append(f"(cold ask @onnx imports {imp['total_import_s']} s: "
                         + ", ".join(f"{h['package']} {h['s']}" for h in imp["heavy_packages"][:4]) + ")")
        bm = o.get("bm25_retrieval") or {}
        lines.append(f"(bm25 alone, any backend: recall@5 {bm.get('recall@5')}, mrr@10 {bm.get('mrr@10')})")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def section(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = now()
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - one failing section must not lose the others
        results[name] = {"error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                         "traceback": traceback.format_exc()[-3000:]}
        print(f"[bench] {name} FAILED: {exc}", file=sys.stderr, flush=True)
        return None
    if isinstance(value, dict):
        value["section_s"] = round(now() - started, 1)
    results[name] = value
    print(f"[bench] {name} done in {now() - started:.1f} s", file=sys.stderr, flush=True)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json", help="JSON results file")
    parser.add_argument("--quick", action="store_true", help="skip the 100k scale level and the 1,000-document ingest")
    parser.add_argument("--users", type=int, default=20, help="simultaneous chat users (default 20)")
    parser.add_argument("--messages", type=int, default=10, help="messages per user (default 10)")
    parser.add_argument("--scale-sizes", help="comma-separated passage counts (default 1000,10000,100000; "
                        "--quick: 1000,10000)")
    parser.add_argument("--only", help="comma-separated sections to run (ingest,cold,warm,triage,app,load,scale,docs1000,onnx)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--real-vectors", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("build", "serve"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_worker:
        if args.phase == "build":
            print(json.dumps(scale_build(args.scale_worker, args.base_index, args.dir, args.real_vectors)))
        else:
            print(json.dumps(scale_serve(args.dir, queries=40)))
        return 0

    wanted = set((args.only or "ingest,cold,warm,triage,app,load,scale,docs1000,onnx").split(","))
    if args.quick:
        wanted.discard("docs1000")
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    # subtle: the product keeps its model, exports and caches in the per-user home folder
    # (assistant.home); a HOME inside the workspace keeps the run hermetic (the user's is
    # never written) and reaches subprocesses. The trained model alone is copied in, so no
    # run pays for training it; "model_first_load_s" is the ONNX export and the first load.
    trained = Home.of(None).models
    os.environ["HOME"] = ENV["HOME"] = str(work / "home")
    if trained.is_dir():
        shutil.copytree(trained, Home.of(None).models)
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quick": args.quick,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()),
            "machine": platform.platform(),
            "model": MODEL,
        }
    }
    started = now()
    try:
        b = Bench(work)
        results["meta"]["model_load_s"] = round(b.model_load_s, 2)
        results["meta"]["model_first_load_s"] = round(b.first_load_s, 2)
        # The base index is built by the ingest section; build it anyway when that is skipped.
        if "ingest" in wanted:
            section(results, "ingest", lambda: bench_ingest(b))
        else:
            from assistant.index.ingest import ingest

            ingest(b.settings, b.embedder)
        if "cold" in wanted:
            section(results, "cold", lambda: bench_cold(b))
        if "warm" in wanted:
            section(results, "warm", lambda: bench_warm(b))
        if "triage" in wanted:
            section(results, "triage", lambda: bench_triage(b))
        if wanted & {"app", "load"}:
            app = App(b)
            try:
                section(results, "app", app.wait_first_answer)
                if "load" in wanted and "error" not in results.get("app", {}):
                    section(results, "load", lambda: bench_load(app, args.users, args.messages))
            finally:
                app.stop()
        if "scale" in wanted:
            sizes = (1000, 10_000) if args.quick else (1000, 10_000, 100_000)
            if args.scale_sizes:
                sizes = tuple(int(n) for n in args.scale_sizes.split(","))
            section(results, "scale", lambda: bench_scale(b, sizes))
        if "docs1000" in wanted:
            section(results, "docs1000", lambda: bench_docs1000(b))
        if "onnx" in wanted:
            section(results, "onnx", lambda: bench_onnx(b))
    finally:
        results["meta"]["total_s"] = round(now() - started, 1)
        results["meta"]["load_average_at_end"] = list(os.getloadavg())
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    print(f"\nResults: {args.out}  (total {results['meta']['total_s']} s; load average at start "
          f"{results['meta']['load_average_at_start'][0]:.1f} on {os.cpu_count()} CPUs)")
    failed = failures(results)
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the errors in {args.out})", file=sys.stderr)
    return 1 if failed else 0


def failures(results: dict[str, Any]) -> list[str]:
    """The sections, and the scale levels, that ended in an error: a broken benchmark fails loudly."""
    failed = [name for name, value in results.items() if isinstance(value, dict) and "error" in value]
    failed += [f"scale {n}" for n, row in (results.get("scale") or {}).items()
               if isinstance(row, dict) and "error" in row]
    return failed


if __name__ == "__main__":
    sys.exit(main())
