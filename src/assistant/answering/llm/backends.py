"""Choosing a chat model for an answerer spec (see ``SPEC_FORMS``); the one module that
loads langchain chat models. Optional backends are imported only when configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from assistant.answering.base import Answerer
from assistant.answering.llm.answerer import DEFAULT_TIMEOUT_S, LLMAnswerer
from assistant.config import Settings
from assistant.errors import ConfigError, ModelUnavailableError

__all__ = ["DEFAULT_MAX_TOKENS", "PROVIDERS", "SPEC_FORMS", "make_answerer"]

SPEC_FORMS = ("extractive", "ollama:<model>", "openai:<model>", "hf:<local model folder>")
DEFAULT_MAX_TOKENS = 300
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"



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


