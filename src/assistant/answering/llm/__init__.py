"""LLM answerers: a language model phrases the answer, the grounding check decides what survives.

This is the one module that imports langchain chat models. The backends are
optional and imported only when configured; ``openai:`` and ``ollama:`` specs
go to langchain's ``init_chat_model`` as they are:

    extractive            the default; no model (returns ``fallback`` itself)
    ollama:<model>        a local Ollama server at OLLAMA_HOST (default http://127.0.0.1:11434)
    openai:<model>        an OpenAI or OpenAI-compatible server: OPENAI_API_KEY, OPENAI_BASE_URL
    hf:<folder>           a local transformers chat model on the CPU (never downloaded)

The model gets the fixed system prompt from data/safety.yaml and the retrieved
passages numbered [1]..[k]. Its answer goes through ``grounding.check``:
uncited, wrongly cited, unsupported and care-discouraging sentences are
dropped, and when too little survives, or the model fails, times out or says
nothing, the extractive answer is returned instead, marked
``answerer="extractive-fallback"``. The model never sees or controls the
escalation notice; the pipeline puts it first.

>>> answerer = make_answerer("openai:gpt-4o-mini", settings, fallback=extractive,   # doctest: +SKIP
...                          env={"OPENAI_API_KEY": "sk-..."})
>>> answerer.compose(evidence).answerer                                             # doctest: +SKIP
'openai:gpt-4o-mini'
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.answering.extractive import Answerer, Composition, Evidence, citation
from assistant.config import Settings
from assistant.errors import ConfigError, ModelUnavailableError
from assistant.answering.grounding import (
    MIN_KEPT,
    SUPPORT_THRESHOLD,
    GroundingReport,
    Kept,
    best_sentence,
    check,
    content_terms,
    judge,
    split_cited,
    strip_markers,
)
from assistant.safety.notices import SafetyTexts, default_texts
from assistant.schema import Citation
from assistant.text import fold, sentences

__all__ = ["AnswerStream", "LLMAnswerer", "LLMResult", "SPEC_FORMS", "make_answerer"]

SPEC_FORMS = ("extractive", "ollama:<model>", "openai:<model>", "hf:<local model folder>")
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_TOKENS = 300
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
FALLBACK = "extractive-fallback"
# The system prompt tells the model to say exactly this when the passages do not answer.
MODEL_ABSTENTION = "my sources do not cover this"


# --- choosing a backend -------------------------------------------------------


def make_answerer(
    spec: str,
    settings: Settings,
    *,
    fallback: Answerer,
    env: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Answerer:
    """The answerer for a configured ``spec`` (see ``SPEC_FORMS``).

    ``env`` carries OLLAMA_HOST, OPENAI_BASE_URL and OPENAI_API_KEY from the edge
    (the CLI passes ``os.environ``); nothing here reads the process environment.
    Raises ConfigError for an unknown spec or a missing optional package, and
    ModelUnavailableError for an ``hf:`` folder that cannot be loaded.
    """
    env = env or {}
    spec = spec.strip()
    if spec in ("", "extractive"):
        return fallback
    backend, _, target = spec.partition(":")
    if backend not in (*PROVIDERS, "hf") or not target.strip():
        raise ConfigError(f"Unknown answerer {spec!r}. Use one of: {', '.join(SPEC_FORMS)} "
                          "(flag --answerer or env ASSISTANT_ANSWERER).")
    model = (_huggingface(target, timeout_s, max_tokens) if backend == "hf"
             else _chat_model(spec, backend, env, timeout_s, max_tokens))
    return LLMAnswerer(model, fallback, name=spec, timeout_s=timeout_s, max_sentences=settings.max_sentences)


# The served backends: langchain's init_chat_model reads "openai:<model>" and "ollama:<model>"
# itself; each needs its integration package, an optional extra of this one.
PROVIDERS = {"openai": ("langchain_openai", "langchain-openai"), "ollama": ("langchain_ollama", "langchain-ollama")}


def _chat_model(spec: str, backend: str, env: Mapping[str, str], timeout_s: float, max_tokens: int) -> BaseChatModel:
    module, package = PROVIDERS[backend]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"The {backend} answerer needs the optional package {package}. "
                          f'Install it with: pip install ".[{backend}]"') from exc
    from langchain.chat_models import init_chat_model

    options = _openai_options(env, timeout_s, max_tokens) if backend == "openai" else _ollama_options(env, timeout_s, max_tokens)
    return init_chat_model(spec, **options)


def _openai_options(env: Mapping[str, str], timeout_s: float, max_tokens: int) -> dict[str, Any]:
    base_url = env.get("OPENAI_BASE_URL") or None
    key = env.get("OPENAI_API_KEY") or None
    if key is None and base_url is None:
        raise ConfigError("openai:<model> needs OPENAI_API_KEY, or OPENAI_BASE_URL pointing at an "
                          "OpenAI-compatible server. Set them in the environment.")
    # Chat Completions is what OpenAI-compatible servers (vLLM, llama.cpp, transformers serve) speak;
    # no retries, so a dead server costs one timeout, not three.
    return dict(base_url=base_url, api_key=key or "unused", timeout=timeout_s, max_retries=0,
                max_tokens=max_tokens, use_responses_api=False)


def _ollama_options(env: Mapping[str, str], timeout_s: float, max_tokens: int) -> dict[str, Any]:
    host = env.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST
    if "://" not in host:  # Ollama itself accepts OLLAMA_HOST=host:port
        host = f"http://{host}"
    return dict(base_url=host, temperature=0, num_predict=max_tokens, client_kwargs={"timeout": timeout_s})


def _huggingface(folder: str, timeout_s: float, max_tokens: int) -> BaseChatModel:
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise ModelUnavailableError(
            f"hf:{folder} is not a local model folder (no config.json). Give the folder of a "
            "transformers chat model saved with save_pretrained(); models are never downloaded.")
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    except ImportError as exc:  # pragma: no cover - core dependencies
        raise ConfigError('The hf answerer needs transformers and langchain-huggingface; run pip install ".".') from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError or KeyError for a bad folder
        raise ModelUnavailableError(f"Could not load a causal language model from {path}: {exc}. "
                                    "Check that the folder is complete.") from exc
    if not getattr(tokenizer, "chat_template", None):
        raise ModelUnavailableError(f"The tokenizer in {path} has no chat template. Use an instruction-tuned "
                                    "(chat) model, or add a chat_template to tokenizer_config.json.")
    # max_time stops generation itself at the deadline, so a timed-out answer does
    # not keep a CPU core busy after the caller has moved on to the fallback.
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu",
                         max_new_tokens=max_tokens, max_time=timeout_s, do_sample=False,
                         return_full_text=False)
    llm = HuggingFacePipeline(pipeline=generator, model_id=str(path))
    return ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id=str(path))


# --- the answerer ---------------------------------------------------------------


@dataclass(frozen=True)
class LLMResult:
    """One generated answer: what is kept, the model's raw text, and why anything was dropped.

    ``note`` says why the fallback or an abstention was used (None when the
    model's grounded answer is shown).
    """

    composition: Composition
    grounding: GroundingReport | None
    note: str | None
    output: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "answerer": self.composition.answerer,
            "note": self.note,
            "grounding": self.grounding.to_dict() if self.grounding else None,
            "seconds": round(self.seconds, 3),
        }


class LLMAnswerer(Answerer):
    """Answer with a langchain chat model, keeping only what the passages support.

    ``timeout_s`` bounds the whole call (a worker thread is abandoned after it);
    ``support_threshold`` and ``min_kept`` are the grounding check's settings.
    ``system_prompt_version`` and ``system_prompt_hash`` identify the prompt used.
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        fallback: Answerer,
        *,
        name: str = "llm",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        support_threshold: float = SUPPORT_THRESHOLD,
        min_kept: float = MIN_KEPT,
        max_sentences: int = 5,
        texts: SafetyTexts | None = None,
    ) -> None:
        self.chat_model = chat_model
        self.fallback = fallback
        self.name = name
        self.timeout_s = timeout_s
        self.support_threshold = support_threshold
        self.min_kept = min_kept
        self.max_sentences = max_sentences
        texts = texts or default_texts()
        self.system_prompt = texts.system_prompt
        self.system_prompt_version = texts.system_prompt_version
        self.system_prompt_hash = texts.system_prompt_hash
        self._local = threading.local()

    @property
    def last(self) -> LLMResult | None:
        """The result of this thread's latest ``compose`` or finished ``stream`` (for JSON output)."""
        return getattr(self._local, "result", None)

    def messages(self, evidence: Evidence) -> list[BaseMessage]:
        passages = "\n\n".join(
            f"[{i}] {hit.chunk.title} — {hit.chunk.section}\n{hit.chunk.text}" for i, hit in enumerate(evidence.hits, 1)
        )
        prompt = (
            f"Passages:\n\n{passages}\n\nQuestion: {evidence.question}\n\n"
            f"Answer using only the passages above, in at most {self.max_sentences} short sentences. "
            "End every sentence with the number of the passage it comes from, like [1]."
        )
        return [SystemMessage(self.system_prompt), HumanMessage(prompt)]

    def compose(self, evidence: Evidence) -> Composition:
        return self.run(evidence).composition

    def run(self, evidence: Evidence) -> LLMResult:
        """Generate, check and compose; never raises for a model failure."""
        started = time.monotonic()
        base = self.fallback.compose(evidence)
        if base.abstained or not evidence.hits:
            # The calibrated relevance gate stays in charge: off-topic questions never reach the model.
            return self._keep(LLMResult(base, None, "sources do not cover the question; model not asked"))
        try:
            output = _call_with_deadline(lambda: _text(self.chat_model.invoke(self.messages(evidence))),
                                         self.timeout_s)
        except Exception as exc:  # any backend failure, by design: the extractive answer is always there
            return self._keep(self._fallback(base, f"model failed: {_describe(exc)}", started=started))
        return self._keep(self._finish(evidence, base, output, started))

    def stream(self, evidence: Evidence) -> AnswerStream:
        """Grounded sentences as the model completes them; see ``AnswerStream``."""
        return AnswerStream(self, evidence)

    # -- internals --

    def _keep(self, result: LLMResult) -> LLMResult:
        self._local.result = result
        return result

    def _fallback(self, base: Composition, note: str, report: GroundingReport | None = None, output: str = "",
                  started: float | None = None) -> LLMResult:
        seconds = time.monotonic() - started if started is not None else 0.0
        return LLMResult(replace(base, answerer=FALLBACK), report, note, output, seconds)

    def _finish(self, evidence: Evidence, base: Composition, output: str, started: float) -> LLMResult:
        if not output.strip():
            return self._fallback(base, "model returned no text", started=started)
        passages = [hit.chunk.text for hit in evidence.hits]
        report = check(output, passages, self.support_threshold, self.min_kept)
        if not report.kept and MODEL_ABSTENTION in fold(output):
            abstained = Composition("", (), abstained=True, relevance=base.relevance, answerer=self.name)
            return LLMResult(abstained, report, "model said its sources do not cover the question", output,
                             time.monotonic() - started)
        if not report.passed:
            note = f"{len(report.kept)} of {report.total} sentences passed the grounding check"
            return self._fallback(base, note, report, output, started)
        renderer = _Renderer(evidence)
        answer = " ".join(renderer.add(kept) for kept in report.kept)
        composition = Composition(answer, renderer.citations(), abstained=False, relevance=base.relevance,
                                  answerer=self.name)
        return LLMResult(composition, report, None, output, time.monotonic() - started)


class _Renderer:
    """Renumber cited passages 1..m in order of first use and rebuild the answer text."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.numbers: dict[int, int] = {}  # passage number shown to the model -> number shown to the user
        self.claims: dict[int, list[str]] = {}

    def add(self, kept: Kept) -> str:
        body = strip_markers(kept.text)
        shown = [self.numbers.setdefault(n, len(self.numbers) + 1) for n in kept.cites]
        for n in kept.cites:
            self.claims.setdefault(n, []).append(body)
        return body + " " + "".join(f"[{m}]" for m in shown)

    def citations(self) -> tuple[Citation, ...]:
        out = []
        for old, new in sorted(self.numbers.items(), key=lambda kv: kv[1]):
            hit = self.evidence.hits[old - 1]
            out.append(citation(new, hit.chunk, hit.score, highlights(hit.chunk.text, self.claims[old])))
        return tuple(out)


def highlights(passage: str, claims: list[str]) -> list[str]:
    """The passage sentences that best support ``claims``, in passage order (for the UI to highlight)."""
    chosen = {best_sentence(claim, passage) for claim in claims}
    return [s for _, _, s in sentences(passage) if s in chosen and content_terms(s)]


class AnswerStream:
    """Iterate for text deltas; afterwards ``composition`` is the grounded answer to keep.

    Each delta is one sentence that has already passed the grounding check
    (renumbered as in the final answer), so ungrounded text never reaches the
    screen, not even for a moment. When the final check fails, or the model
    fails mid-way, ``composition`` is the extractive fallback and the UI should
    replace what it showed. Reading ``composition`` before the end drains the stream.

    >>> s = answerer.stream(evidence)     # doctest: +SKIP
    >>> for delta in s: show(delta)       # doctest: +SKIP
    >>> keep(s.composition)               # doctest: +SKIP
    """

    def __init__(self, answerer: LLMAnswerer, evidence: Evidence) -> None:
        self.result: LLMResult | None = None
        self._answerer = answerer
        self._evidence = evidence
        self._deltas = self._run()

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    @property
    def composition(self) -> Composition:
        for _ in self._deltas:
            pass
        assert self.result is not None
        return self.result.composition

    def _run(self) -> Iterator[str]:
        a, evidence = self._answerer, self._evidence
        started = time.monotonic()
        base = a.fallback.compose(evidence)
        if base.abstained or not evidence.hits:
            self.result = a._keep(LLMResult(base, None, "sources do not cover the question; model not asked"))
            return
        passages = [hit.chunk.text for hit in evidence.hits]
        renderer = _Renderer(evidence)
        output, emitted = "", 0
        try:
            for delta in _stream_with_deadline(a.chat_model, a.messages(evidence), a.timeout_s):
                output += delta
                complete = split_cited(output)[:-1]  # the last sentence may still be growing
                for sentence in complete[emitted:]:
                    verdict = judge(sentence, passages, a.support_threshold)
                    if isinstance(verdict, Kept):
                        yield (" " if renderer.numbers else "") + renderer.add(verdict)
                emitted = len(complete)
        except Exception as exc:  # any backend failure: the extractive answer is always there
            self.result = a._keep(a._fallback(base, f"model failed: {_describe(exc)}", output=output, started=started))
            return
        result = a._finish(evidence, base, output, started)
        if result.grounding and result.grounding.passed:
            for sentence in split_cited(output)[emitted:]:  # the last sentence, now complete
                verdict = judge(sentence, passages, a.support_threshold)
                if isinstance(verdict, Kept):
                    yield (" " if renderer.numbers else "") + renderer.add(verdict)
        self.result = a._keep(result)


# --- calling a model without hanging ----------------------------------------------


class ModelTimeout(TimeoutError):
    pass


def _call_with_deadline(fn: Callable[[], str], timeout_s: float) -> str:
    """Run ``fn`` in a daemon thread; give up after ``timeout_s`` whatever the backend does."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="llm-answerer", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ModelTimeout(f"no answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _stream_with_deadline(model: BaseChatModel, messages: list[BaseMessage], timeout_s: float) -> Iterator[str]:
    """Text deltas of ``model.stream``, read through a queue so the deadline holds between chunks too."""
    deadline = time.monotonic() + timeout_s
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def target() -> None:
        try:
            for chunk in model.stream(messages):
                if stop.is_set():
                    return  # leaving the loop closes the backend's stream
                chunks.put(("delta", _text(chunk)))
            chunks.put(("end", None))
        except BaseException as exc:
            chunks.put(("error", exc))

    threading.Thread(target=target, name="llm-answerer-stream", daemon=True).start()
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                kind, value = chunks.get(timeout=max(remaining, 0.0)) if remaining > 0 else chunks.get_nowait()
            except queue.Empty:
                raise ModelTimeout(f"no complete answer within {timeout_s:g} s") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def _text(message: Any) -> str:
    text = getattr(message, "text", message)
    return str(text) if text is not None else ""


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__
