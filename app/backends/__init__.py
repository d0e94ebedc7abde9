"""Model backends behind one interface (`Backend`), and the one registry of them: name -> how to build it; timing a
call and keeping the token counts its stream reports (`metering`).
May import `app.settings` (for typing) and nothing else of the project."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.backends.base import Backend, BackendError

if TYPE_CHECKING:
    from app.settings import Settings


def _transformers(settings: Settings) -> Backend:
    from app.backends.transformers_backend import TransformersBackend  # imports torch's helpers: only when chosen

    return TransformersBackend(settings.model, settings.local_concurrency,
                               settings.max_prompt_tokens + settings.max_new_tokens)


def _openai(settings: Settings) -> Backend:
    from app.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(settings.base_url, settings.model, settings.api_key, settings.timeout_s)


def _scripted(settings: Settings) -> Backend:
    from app.backends.scripted import ScriptedBackend

    if settings.script is None:
        raise BackendError("the scripted backend needs a script: set WOZ_SCRIPT (or --script) to a JSON file")
    return ScriptedBackend.from_file(settings.script)


BACKENDS: dict[str, Callable[[Settings], Backend]] = {
    "transformers": _transformers, "openai": _openai, "scripted": _scripted}


def make_backend(settings: Settings) -> Backend:
    """The configured backend. Nothing is loaded yet: a transformers model loads on first use or load()."""
    return BACKENDS[settings.backend](settings)
