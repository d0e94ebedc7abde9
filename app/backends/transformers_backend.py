"""Local model through transformers: CoALM-8B in bf16 on a GPU (accelerate places it). Every turn is one request
in a running batch (transformers' continuous batching, `app/backends/batching.py`), streamed token by token to its
own dialogue with its own stop strings and token limit."""

from __future__ import annotations

import collections
import copy
import logging
import os
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from tokenizers.decoders import DecodeStream

from app.backends.base import BackendError, Delta, ModelRequest, TextDelta, Usage, on_zero_gpu
from app.backends.batching import Engine, EngineStopped, Ticket

log = logging.getLogger(__name__)
BIG_MODEL_PARAMETERS = 1_000_000_000


class TransformersBackend:
    """One model instance shared by every dialogue. Turns that run at the same time share its forward passes: up
    to `concurrency` turns of `context_tokens` (prompt and answer) fit its KV cache at once; more wait their turn
    inside transformers' scheduler.

    On ZeroGPU a GPU is attached only inside each turn's `spaces.GPU` call, so each turn gets an engine of its
    own, started and stopped within the call: batching across people is not possible there."""

    def __init__(self, model_id: str, concurrency: int = 8, context_tokens: int = 4096) -> None:
        self.model_id = model_id
        self.label = f"transformers {model_id}"
        self.concurrency = concurrency
        self.context_tokens = context_tokens
        self.per_turn = on_zero_gpu()
        self.warnings: list[str] = []
        self._model: Any = None
        self._tokenizer: Any = None
        self._generation_config: Any = None
        self._engine: Engine | None = None
        self._load_lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self._stop_criteria: dict[tuple[str, ...], Any] = {}
        self.generated_tokens = 0  # every token streamed to a dialogue so far (benchmarks read it)
        self._count_lock = threading.Lock()

    @classmethod
    def of_model(cls, model: Any, tokenizer: Any, concurrency: int = 8, context_tokens: int = 4096
                 ) -> TransformersBackend:
        """A backend over a model already in memory (a benchmark's randomly initialised CoALM-8B shape)."""
        backend = cls(model.name_or_path or "a model in memory", concurrency, context_tokens)
        backend._adopt(tokenizer, model)
        return backend

    def load(self) -> None:
        """Load the tokenizer and weights and start the batching engine now (otherwise the first request does).
        Raises BackendError."""
        with self._load_lock:
            if self._model is None:
                self._adopt(*self._load())
        if not self.per_turn:
            self._shared_engine()

    def _adopt(self, tokenizer: Any, model: Any) -> None:
        config = copy.deepcopy(model.generation_config)
        config.do_sample = False  # greedy: CoALM's inference config sets no sampling
        config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
        self._tokenizer, self._model, self._generation_config = tokenizer, model, config
        self.label = f"transformers {self.model_id} on {model.device}"

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
        if not gpu and model.num_parameters() > BIG_MODEL_PARAMETERS:
            warning = (f"{self.model_id} runs on the CPU: an 8B model takes minutes per reply. Use a GPU machine "
                       "or WOZ_BACKEND=openai with a served model")
            self.warnings.append(warning)
            log.warning(warning)
        return tokenizer, model

    def count_tokens(self, request: ModelRequest) -> int:
        """The prompt's exact length in the model's tokens (loading the model first)."""
        self.load()
        return len(self._encode(request))

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """Add the request to the running batch and yield its text as tokens arrive. Closing the stream early, or
        calling its `cancel()` from any thread, drops the request from the batch. A request that fails raises
        BackendError in its own stream only."""
        self.load()
        prompt = self._encode(request)
        needed = len(prompt) + request.max_new_tokens
        if self.per_turn:
            engine = self._start_engine(1, max(self.context_tokens, needed))
            ticket = self._submit(engine, prompt, request.max_new_tokens)
        else:
            engine = self._shared_engine()
            if needed > engine.capacity_tokens:
                raise BackendError(
                    f"this step needs {needed} tokens (prompt and answer) but the model's cache holds "
                    f"{engine.capacity_tokens} (WOZ_LOCAL_CONCURRENCY turns of WOZ_MAX_PROMPT_TOKENS + "
                    "WOZ_MAX_NEW_TOKENS); start a new, shorter dialogue")
            try:
                ticket = self._submit(engine, prompt, request.max_new_tokens)
            except BackendError:  # the loop died just now: a fresh engine takes the request
                ticket = self._submit(self._shared_engine(), prompt, request.max_new_tokens)

        def release() -> None:  # idempotent: cancels an unfinished request, ends a turn's own engine
            ticket.cancel()
            if self.per_turn:
                engine.close()

        return _Answer(self._read(ticket, prompt, request.stop, release), ticket, release)

    def _encode(self, request: ModelRequest) -> list[int]:
        encoded = self._tokenizer.apply_chat_template(request.messages, tools=request.tools, add_generation_prompt=True,
                                                      tokenize=True, return_dict=True)
        return list(encoded["input_ids"])

    def _shared_engine(self) -> Engine:
        """The engine every turn of this process shares, started anew when there is none here or its loop died."""
        with self._engine_lock:
            engine = self._engine
            if engine is not None and engine.pid == os.getpid() and engine.alive():
                return engine
            if engine is not None and engine.pid == os.getpid():  # died (a failed forward pass): free its cache
                log.error("the batching loop stopped (%s); starting a new one", engine.failure())
                engine.close()
            self._engine = engine = self._start_engine(self.concurrency, self.context_tokens)
            return engine

    def close(self) -> None:
        """Stop the shared engine (its generation loop and KV cache); a later request starts a new one. Turns
        still running end with BackendError."""
        with self._engine_lock:
            engine, self._engine = self._engine, None
        if engine is not None and engine.pid == os.getpid():
            engine.close()

    def _start_engine(self, concurrency: int, context_tokens: int) -> Engine:
        import torch

        try:
            return Engine(self._model, self._generation_config, concurrency, context_tokens, graphs=not self.per_turn)
        except (torch.cuda.OutOfMemoryError, MemoryError, RuntimeError, ValueError) as error:
            raise BackendError(
                f"cannot set {self.model_id} up for {concurrency} turns of {context_tokens} tokens at once: "
                f"{_first_line(error)}. Lower WOZ_LOCAL_CONCURRENCY or WOZ_MAX_PROMPT_TOKENS") from error

    def _submit(self, engine: Engine, prompt: list[int], max_new_tokens: int) -> Ticket:
        try:
            return engine.submit(prompt, max_new_tokens)
        except EngineStopped as error:
            raise BackendError(f"the model stopped before answering ({error}); press Retry") from error

    def _read(self, ticket: Ticket, prompt: list[int], stops: tuple[str, ...],
              release: Callable[[], None]) -> Generator[Delta, None, None]:
        """The request's text, decoded incrementally as its tokens arrive, up to and including the token that
        completes a stop string (as `generate(stop_strings=...)` ends: transformers' own StopStringCriteria decides)."""
        import torch

        # Incremental decoding: O(1) a token, where re-decoding the whole answer each token (as transformers'
        # TextIteratorStreamer does) cost a fast model a fifth of its speed.
        decoder = DecodeStream(skip_special_tokens=True)
        stop = self._criteria(stops)
        tail = collections.deque(prompt, maxlen=stop.maximum_token_len) if stop else None  # a stop may span the prompt
        seen = 0
        try:
            while (output := ticket.next()) is not None:
                pieces, stopped, used = [], False, 0
                for token in output.tokens[seen:]:
                    used += 1
                    if piece := decoder.step(self._tokenizer.backend_tokenizer, token):
                        pieces.append(piece)
                    if tail is not None:
                        tail.append(token)
                        if stopped := bool(stop(torch.tensor([list(tail)]), None)[0]):
                            break
                seen = len(output.tokens)
                with self._count_lock:
                    self.generated_tokens += used
                if pieces:
                    yield TextDelta("".join(pieces))
                if stopped or (output.finished and output.error is None):
                    # Counted by the model's own tokenizer: the prompt as encoded, every token generated for it
                    yield Usage(len(prompt), seen, "tokenizer", self.model_id)
                    return
                if output.error is not None:
                    raise BackendError(_failed(output.error))
        except EngineStopped as error:
            raise BackendError(_failed(str(error))) from error
        finally:  # also when the consumer stops early (Stop, the deadline): the request leaves the batch
            release()

    def _criteria(self, stops: tuple[str, ...]) -> Any:
        if not stops:
            return None
        if stops not in self._stop_criteria:  # building one reads the whole vocabulary: once per set of stops
            from transformers import StopStringCriteria

            self._stop_criteria[stops] = StopStringCriteria(self._tokenizer, list(stops))
        return self._stop_criteria[stops]


class _Answer:
    """A turn's stream of deltas; `cancel()` may be called from any thread (the agent's Stop and deadline) and drops
    the request from the batch at once, even while it still waits for its first token."""

    def __init__(self, deltas: Generator[Delta, None, None], ticket: Ticket, release: Callable[[], None]) -> None:
        self._deltas, self._ticket, self._release = deltas, ticket, release

    def __iter__(self) -> _Answer:
        return self

    def __next__(self) -> Delta:
        return next(self._deltas)

    def cancel(self) -> None:
        """Drop the request; its reader wakes and the stream ends."""
        self._ticket.cancel()

    def close(self) -> None:
        """End the stream (and the request, if it still runs)."""
        self._deltas.close()
        self._release()  # a stream never read has not run its own cleanup


def _failed(error: str) -> str:
    if "out of memory" in error.lower():
        return ("out of GPU memory while answering; start a new, shorter dialogue (or lower "
                "WOZ_LOCAL_CONCURRENCY)")
    return f"the model failed while answering: {error.strip().splitlines()[0][:300] if error.strip() else error}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
