"""The chat in a browser: rendering, the service behind the chat, the Gradio layout, serving; CSS and JS as files.

``render`` and ``service`` are imported here (neither imports gradio);
``build_app`` and ``launch`` come from ``layout`` on first use, so importing
this package, or any module in it, never imports gradio or touches its settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.ui.render import (
    DEGRADED_STATUS,
    article_href,
    esc,
    highlight,
    render_answer,
    render_article_page,
    render_body,
    render_error,
    render_info,
    render_notice,
    render_quote,
    render_sources,
    render_user,
    shown_message,
)
from assistant.ui.service import EMPTY_PROMPT, GENERIC_ERROR, Service, Session

if TYPE_CHECKING:
    from assistant.ui.layout import build_app, launch

_LAYOUT = ("build_app", "launch")

__all__ = [
    "DEGRADED_STATUS",
    "EMPTY_PROMPT",
    "GENERIC_ERROR",
    "Service",
    "Session",
    "article_href",
    "build_app",
    "esc",
    "highlight",
    "launch",
    "render_answer",
    "render_article_page",
    "render_body",
    "render_error",
    "render_info",
    "render_notice",
    "render_quote",
    "render_sources",
    "render_user",
    "shown_message",
]


def __getattr__(name: str) -> Any:
    # subtle: layout sets GRADIO_ANALYTICS_ENABLED at import; only code that builds the page needs it.
    if name in _LAYOUT:
        from assistant.ui import layout

        return getattr(layout, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAYOUT})
