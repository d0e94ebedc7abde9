"""Local model through transformers: CoALM-8B in bf16 on a GPU (accelerate places it), streamed token by token."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tokenizers.decoders import DecodeStream

from app.backends.base import BackendError, Delta, ModelRequest, TextDelta

log = logging.getLogger(__name__)
BIG_MODEL_PARAMETERS = 1_000_000_000
FLUSH_S = 0.02


class TransformersBackend:
    """One model instance shared by every dialogue; one generation at a time (a GPU runs one well)."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.label = f"transformers {model_id}"
        self.warnings: list[str] = []
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._jobs: queue.Queue[_Job] = queue.Queue()  # generations wait here: one model runs one at a time

    def load(self) -> None:
        """Load the tokenizer and weights now (otherwise the first request does). Raises BackendError."""
        with self._load_lock:
            if self._model is None:
                self._tokenizer, self._model = self._load()
                threading.Thread(target=self._work_forever, name="generate", daemon=True).start()

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
                f"cannot load {self.model_id!r}: {_first_line(error).rstrip('.')}. If the Hugging Face Hub is "
                "unreachable and the model is not cached, set WOZ_MODEL to a local folder holding the weights, "
                "or run the model on a server and use WOZ_BACKEND=openai with WOZ_BASE_URL"
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
        """The prompt's exact length in the model's tokens (loading the model first)."""
        self.load()
        return len(self._encode(request)["input_ids"][0])

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """Queue a greedy generation for the model's thread and yield its text as tokens arrive; stopping
        early cancels the generation."""
        self.load()
        encoded = self._encode(request).to(self._model.device)
        job = _Job(threading.Event(), threading.Event(), [])
        job.streamer = _TokenQueue(job.cancel)
        job.options = {
            **encoded, "streamer": job.streamer, "max_new_tokens": request.max_new_tokens, "do_sample": False,
            "pad_token_id": self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
            **({"stop_strings": list(request.stop), "tokenizer": self._tokenizer} if request.stop else {}),
        }
        self._jobs.put(job)
        # Incremental decoding: O(1) a token, where re-decoding the whole answer each token (as transformers'
        # TextIteratorStreamer does) cost a fast model a fifth of its speed.
        decoder = DecodeStream(skip_special_tokens=True)
        try:
            while (tokens := job.streamer.queue.get()) is not None:
                text = "".join(piece for token in tokens if (piece := decoder.step(self._tokenizer.backend_tokenizer,
                                                                                    token)))
                if text:
                    yield TextDelta(text)
        finally:  # also when the consumer stops early (the stop button): end the generation too
            job.cancel.set()
            job.done.wait()
        if job.failure:
            raise job.failure[0]

    def _encode(self, request: ModelRequest) -> Any:
        return self._tokenizer.apply_chat_template(
            request.messages, tools=request.tools, add_generation_prompt=True, return_tensors="pt", return_dict=True)

    def _work_forever(self) -> None:
        """The one thread that runs the model. Long-lived because torch's CPU thread pool belongs to the
        calling thread: a fresh thread per generation rebuilt it each time (+7% on a small model)."""
        while True:
            job = self._jobs.get()
            try:
                if not job.cancel.is_set():
                    self._generate(job)
            finally:
                job.streamer.end()
                job.done.set()

    def _generate(self, job: _Job) -> None:
        import torch

        try:
            with torch.inference_mode():
                self._model.generate(**job.options)
        except _Cancel:
            pass
        except torch.cuda.OutOfMemoryError as error:
            job.failure.append(BackendError("out of GPU memory while answering; start a new, shorter dialogue"))
            log.error("generation ran out of memory: %s", error)
        except Exception as error:
            job.failure.append(BackendError(f"the model failed while answering: {_first_line(error)}"))
            log.exception("generation failed")


@dataclass
class _Job:
    cancel: threading.Event
    done: threading.Event
    failure: list[BaseException]
    streamer: Any = None
    options: dict[str, Any] = field(default_factory=dict)


class _Cancel(Exception):
    """Raised inside generate() to end it when the consumer has gone away."""


class _TokenQueue:
    """A streamer for generate(): hands new token ids to the consuming thread, and aborts generation once
    `cancel` is set (checked in put(): free, where a stopping criterion builds a tensor every step).

    Tokens are handed over at most every FLUSH_S seconds: waking the consumer for every token made it fight
    the model's own CPU threads on small machines, and a person cannot see a 20 ms delay."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.queue: queue.Queue[list[int] | None] = queue.Queue()
        self.pending: list[int] = []
        self.flushed_at = 0.0
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if self.cancel.is_set():
            raise _Cancel
        if not self.prompt_seen:  # generate() first puts the prompt itself
            self.prompt_seen = True
            return
        self.pending += value.reshape(-1).tolist()
        if (now := time.monotonic()) - self.flushed_at >= FLUSH_S:
            self.queue.put(self.pending)
            self.pending, self.flushed_at = [], now

    def end(self) -> None:
        if self.pending:
            self.queue.put(self.pending)
        self.queue.put(None)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
