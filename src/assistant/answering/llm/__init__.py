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

from assistant.answering.llm.answerer import FALLBACK, AnswerStream, LLMAnswerer, LLMResult
from assistant.answering.llm.backends import SPEC_FORMS, make_answerer

__all__ = ["FALLBACK", "AnswerStream", "LLMAnswerer", "LLMResult", "SPEC_FORMS", "make_answerer"]
