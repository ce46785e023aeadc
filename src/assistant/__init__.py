"""A cited, safety-first assistant for questions about reactions after microneedling.

>>> from assistant import Assistant, Settings   # doctest: +SKIP
>>> Assistant.load(Settings.resolve()).ask("Is redness normal on day 1?").answer  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# subtle: onnxruntime (our embedder, and chromadb's) looks up mobile.events.data.microsoft.com
# every ~10 s and keeps a device id under ~/.cache/Microsoft unless this is set before it
# initialises (its Privacy.md); disable_telemetry_events() does not stop the lookups. Set
# here, on import of the package, so every entry point (CLI, app, tests) has it first.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    ConfigError,
    CorpusError,
    DataFileError,
    EmptyQuestionError,
    IndexMissingError,
    ModelUnavailableError,
)
from assistant.schema import Answer, Chunk, Citation, Document, Hit, Triage, Turn

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Chunk",
    "Citation",
    "ConfigError",
    "CorpusError",
    "DataFileError",
    "Document",
    "EmptyQuestionError",
    "Hit",
    "IndexMissingError",
    "ModelUnavailableError",
    "Settings",
    "Triage",
    "Turn",
]


def __getattr__(name: str) -> Any:
    # The pipeline pulls in torch and chromadb; import it only when asked for,
    # so `assistant --help` and the triage module stay fast.
    if name == "Assistant":
        from assistant.pipeline import Assistant

        return Assistant
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
