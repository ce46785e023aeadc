"""What every benchmark section shares: paths, a hermetic environment, timers, percentiles,
memory and CPU readers, subprocess helpers, the workspace (``Bench``) and the results record.

Importing this module strips ``ASSISTANT_*`` from ``os.environ`` and turns the Hugging
Face hubs offline: the benchmark measures the defaults, never the developer's settings,
and downloads nothing. ``ENV`` is that environment for subprocesses.

Timings are seconds (``now``, ``lap``, ``timed``); ``dist_ms`` turns a list of them into
the ``{"n", "p50_ms", "p95_ms", "mean_ms", "max_ms"}`` record every section reports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.config import DEFAULT_MODEL
from assistant.index.embedding import split_backend

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().with_name("bench.py")  # the entry point; scale runs it as its worker
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

Row = tuple[str, str, str]  # (metric, value as printed, note): one line of the results table

# ---------------------------------------------------------------- timing and statistics


def now() -> float:
    return time.perf_counter()


def lap(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """Seconds ``fn(*args, **kwargs)`` took; its result is dropped."""
    started = now()
    fn(*args, **kwargs)
    return now() - started


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds it took)``."""
    started = now()
    value = fn(*args, **kwargs)
    return value, now() - started


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linearly interpolated between the closest ranks."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def dist_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "max_ms": round(max(ms), 2)}


# ---------------------------------------------------------------- processes


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


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> list[str]:
    """The command line of ``assistant ARGS`` in this virtualenv."""
    script = Path(PY).parent / "assistant"
    return [str(script), *args] if script.exists() else [PY, "-m", "assistant.cli", *args]


def timed_run(cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300) -> float:
    """Seconds a command took; RuntimeError (with the end of its stderr) when it fails."""
    started = now()
    proc = subprocess.run(list(cmd), env=env or ENV, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    elapsed = now() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return elapsed


def median_run(cmd: Sequence[str], runs: int = 3, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"median_s", "runs_s"}`` of ``runs`` fresh runs of a command."""
    times = [timed_run(cmd, env) for _ in range(runs)]
    return {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}


def worker_json(cmd: Sequence[str]) -> dict[str, Any]:
    """The JSON object a worker process prints on its last line of stdout."""
    proc = subprocess.run(list(cmd), env=ENV, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-1500:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


HEAVY = ("torch", "transformers", "sentence_transformers", "langchain_huggingface", "chromadb",
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


def cli_import_profile(*args: str) -> dict[str, Any]:
    """``import_profile`` of one in-process ``assistant ARGS`` run (what a cold command imports)."""
    return import_profile(f"import sys; from assistant.cli import main; sys.exit(main({list(args)!r}))")


def heavy_summary(profile: dict[str, Any], n: int = 4) -> str:
    """"torch 1.2, chromadb 0.4, ...": the ``n`` heaviest packages of an ``import_profile``."""
    return ", ".join(f"{h['package']} {h['s']}" for h in profile["heavy_packages"][:n])


# ---------------------------------------------------------------- data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_questions() -> list[dict[str, Any]]:
    """The test split of evals/questions.jsonl."""
    return [q for q in read_jsonl(QUESTIONS) if q.get("split") == "test"]


def settings_for(corpus: Path, index: Path, model: str = MODEL) -> Any:
    from assistant.config import Settings

    return Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": index, "model": model})


def corpus_chunks(settings: Any) -> list[Any]:
    """The passages of the settings' corpus, whatever state its index is in."""
    from assistant.corpus.chunking import chunk_documents
    from assistant.corpus.cleaning import load_corpus

    return chunk_documents(load_corpus(settings.corpus_dir)[0], settings.chunk_size)


# ---------------------------------------------------------------- the shared fixture


class Bench:
    """The temporary workspace, the real model loaded once, and the base index (built by the
    ingest section, or by bench.py when that is skipped) at ``settings.index_dir``."""

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


# ---------------------------------------------------------------- the assistant under test


def clear_query_cache(assistant: Any) -> None:
    """Forget the query vectors ``assistant`` keeps, so the next text it embeds is embedded afresh."""
    assistant.encoder.cache_clear()


def fresh_ask(assistant: Any, question: str) -> float:
    """Seconds ``assistant.ask(question)`` takes as a new question: the query-embedding
    cache is cleared first, so it pays for its embedding as a patient's question would."""
    clear_query_cache(assistant)
    return lap(assistant.ask, question)


def stage_breakdown(assistant: Any, questions: Sequence[str]) -> dict[str, float]:
    """Median ms of each stage ask() goes through (hybrid asks each retriever for 4 * 2k passages).

    ``collapse+compose`` is collapsing, reading the question, composing and shaping the answer.
    """
    depth = assistant.settings.k * 2
    times: dict[str, list[float]] = {k: [] for k in ("triage", "expand_query", "embed_query", "bm25", "vector_search",
                                                     "hybrid_retrieve", "collapse+compose", "ask_total")}

    def compose(question: str, query: str, hits: Any) -> None:
        kept = assistant.collapse(hits)[: assistant.settings.k]
        evidence = assistant.evidence(query, kept, reading=assistant.roles.read(question))
        # Shaped as under an urgent notice, the tier whose shaping does the most work.
        assistant.shaper.shape(assistant.answerer.compose(evidence), evidence, "urgent")

    for q in questions:
        times["triage"].append(lap(assistant.triager.assess, q, ()))
        query, seconds = timed(assistant.retrieval_query, q)
        times["expand_query"].append(seconds)
        vec, seconds = timed(assistant.embedder.embed_query, query)
        times["embed_query"].append(seconds)
        times["bm25"].append(lap(assistant.retrievers["bm25"].retrieve, query, depth * 4))
        times["vector_search"].append(lap(assistant.store.search, vec, depth * 4))
        clear_query_cache(assistant)
        hits, seconds = timed(assistant.retriever.retrieve, query, depth)
        times["hybrid_retrieve"].append(seconds)
        times["collapse+compose"].append(lap(compose, q, query, hits))
        times["ask_total"].append(fresh_ask(assistant, q))
    return {k: round(statistics.median(v) * 1000, 2) for k, v in times.items()}


# ---------------------------------------------------------------- results


def section(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one section into ``results[name]``: its dict plus ``section_s``, or
    ``{"error", "traceback"}`` when it raises (the other sections still run)."""
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


def failures(results: dict[str, Any]) -> list[str]:
    """The sections, and the scale levels, that ended in an error: a broken benchmark fails loudly."""
    failed = [name for name, value in results.items() if isinstance(value, dict) and "error" in value]
    failed += [f"scale {n}" for n, row in (results.get("scale") or {}).items()
               if isinstance(row, dict) and "error" in row]
    return failed


def fmt(value: Any) -> str:
    """A table cell: floats to 3 significant digits (whole numbers from 100 up)."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def row(metric: str, value: Any, note: str = "") -> Row:
    return (metric, fmt(value), note)
