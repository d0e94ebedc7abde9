"""Model backends behind one interface (`Backend`): transformers, openai-compatible servers, scripted."""

from __future__ import annotations

from app.backends.base import Backend, BackendError
from app.settings import Settings


def make_backend(settings: Settings) -> Backend:
    """The configured backend. Nothing is loaded yet: a transformers model loads on first use or load()."""
    if settings.backend == "openai":
        from app.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(settings.base_url, settings.model, settings.api_key, settings.timeout_s)
    if settings.backend == "scripted":
        from app.backends.scripted import ScriptedBackend

        if settings.script is None:
            raise BackendError("the scripted backend needs a script: set WOZ_SCRIPT (or --script) to a JSON file")
        return ScriptedBackend.from_file(settings.script)
    from app.backends.transformers_backend import TransformersBackend

    return TransformersBackend(settings.model)
