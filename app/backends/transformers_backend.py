"""Local model through transformers: CoALM-8B in bf16 on a GPU (accelerate places it), streamed token by token."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from app.backends.base import BackendError, Delta, ModelRequest, TextDelta

log = logging.getLogger(__name__)
BIG_MODEL_PARAMETERS = 1_000_000_000


class TransformersBackend:
    """One model instance shared by every dialogue; one generation at a time (a GPU runs one well)."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.label = f"transformers {model_id}"
        self.warnings: list[str] = []
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    def load(self) -> None:
        """Load the tokenizer and weights now (otherwise the first request does). Raises BackendError."""
        with self._load_lock:
            if self._model is None:
                self._tokenizer, self._model = self._load()

    def _load(self) -> tuple[Any, Any]:
        import torch  # heavy: imported when a model is actually loaded, never at import time
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gpu = torch.cuda.is_available()
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_id)
            model = AutoModelForCausalLM.from_pretrained(
                self.model_id, dtype=torch.bfloat16 if gpu else torch.float32, device_map="auto" if gpu else None)
        except torch.cuda.OutOfMemoryError as error:
            raise BackendError(f"out of GPU memory loading {self.model_id}: free the GPU, use a smaller model "
                               "(WOZ_MODEL) or serve it elsewhere (WOZ_BACKEND=openai, WOZ_BASE_URL)") from error
        except (OSError, ValueError) as error:  # hub unreachable, not cached, gated, not a model folder
            raise BackendError(
                f"cannot load {self.model_id!r}: {_first_line(error)}. If the Hugging Face Hub is unreachable and "
                "the model is not cached, set WOZ_MODEL to a local folder holding the weights, or run the model on "
                "a server and use WOZ_BACKEND=openai with WOZ_BASE_URL"
            ) from error
        model.eval()
        self.label = f"transformers {self.model_id} on {model.device}"
        if not gpu and model.num_parameters() > BIG_MODEL_PARAMETERS:
            warning = (f"{self.model_id} runs on the CPU: an 8B model takes minutes per reply. Use a GPU machine "
                       "or WOZ_BACKEND=openai with a served model")
            self.warnings.append(warning)
            log.warning(warning)
        return tokenizer, model

    def count_tokens(self, request: ModelRequest) -> int:
        self.load()
        return len(self._encode(request)["input_ids"][0])

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        self.load()
        encoded = self._encode(request).to(self._model.device)
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel, failure = threading.Event(), []
        options = {
            **encoded, "streamer": streamer, "max_new_tokens": request.max_new_tokens, "do_sample": False,
            "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
            "pad_token_id": self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
            **({"stop_strings": list(request.stop), "tokenizer": self._tokenizer} if request.stop else {}),
        }
        with self._generate_lock:
            worker = threading.Thread(target=self._generate, args=(options, streamer, failure), daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    if piece:
                        yield TextDelta(piece)
            finally:  # also when the consumer stops early (the stop button): end the generation too
                cancel.set()
                worker.join()
        if failure:
            raise failure[0]

    def _encode(self, request: ModelRequest) -> Any:
        return self._tokenizer.apply_chat_template(
            request.messages, tools=request.tools, add_generation_prompt=True, return_tensors="pt", return_dict=True)

    def _generate(self, options: dict[str, Any], streamer: Any, failure: list[BaseException]) -> None:
        import torch

        try:
            with torch.inference_mode():
                self._model.generate(**options)
        except torch.cuda.OutOfMemoryError as error:
            failure.append(BackendError("out of GPU memory while answering; try a shorter dialogue (new dialogue)"))
            log.error("generation ran out of memory: %s", error)
            streamer.end()
        except Exception as error:
            failure.append(BackendError(f"the model failed while answering: {_first_line(error)}"))
            log.exception("generation failed")
            streamer.end()


class _Cancelled:
    """Stops generation once the event is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
