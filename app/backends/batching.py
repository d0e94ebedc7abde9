"""Continuous batching for the local model: transformers' own `ContinuousBatchingManager` serves every turn at once.

transformers decides which requests share each forward pass (paged KV cache, chunked prefill, prefix sharing,
requests joining and leaving the running batch); nothing here schedules. This module only starts the manager
with a cache sized for the configured number of turns and hands each request's tokens to the thread that asked
for them. The manager puts every request's outputs on one queue; a router thread moves them into one mailbox per
request, as `transformers serve` does (`transformers/cli/serving/utils.py`, `CBGenerateRunner`).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import queue
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
PAGE_SIZE = 256  # tokens per KV-cache page (transformers' default)
CPU_BATCH_TOKENS = 1024  # tokens per forward pass on a CPU: more is no faster there, and the mask buffers grow with it
FLUSH_S = 0.02  # a reader is woken at most this often (every token woke 16 readers to fight the model's CPU threads)


def _attention_per_request(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """transformers' SDPA attention, once per request of a continuous batch on a CPU.

    With SDPA (the only exact attention continuous batching has on a CPU: flash kernels need a GPU), transformers
    computes one batch's attention as one dense product of every query token with every request's keys under a
    block-diagonal mask: a 1,024-token prefill chunk beside seven 1,400-token dialogues paid for 11,200 keys where
    its own 1,400 count (measured here on SmolLM2: 8 dialogues ran slower than one after the other). Each request's
    block of the same mask, through the same function, gives the same attention at the cost of its own keys; what
    the varlen flash kernels do on a GPU. Anything else (no batch lengths, a GPU, one request) goes through as it
    came."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    cu_q: Any = kwargs.get("cu_seq_lens_q")
    cu_k: Any = kwargs.get("cu_seq_lens_k")  # a dict where a model mixes attention kinds: left to the dense product
    if (cu_q is None or attention_mask is None or query.device.type != "cpu" or query.shape[0] != 1
            or not hasattr(cu_k, "tolist") or len(cu_q) <= 2):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    q_ends, k_ends = cu_q.tolist(), cu_k.tolist()
    if q_ends[-1] != query.shape[2] or k_ends[-1] != key.shape[2]:  # padded shapes: only the dense product knows
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    import torch

    outputs = []
    for q0, q1, k0, k1 in zip(q_ends, q_ends[1:], k_ends, k_ends[1:], strict=False):
        if q1 > q0:
            output, _ = sdpa_attention_forward(module, query[:, :, q0:q1], key[:, :, k0:k1], value[:, :, k0:k1],
                                               attention_mask[..., q0:q1, k0:k1], **kwargs)
            outputs.append(output)  # (1, tokens, heads, dim): the query tokens stay in the batch's order
    return torch.cat(outputs, dim=1), None


def _attend_per_request_on_cpus() -> None:
    """Make transformers' "sdpa" attention `_attention_per_request` (registered through its AttentionInterface).
    Outside a continuous batch on a CPU it is the same function as before, so no other model call changes."""
    from transformers import AttentionInterface

    AttentionInterface.register("sdpa", _attention_per_request)


class EngineStopped(Exception):
    """The generation loop ended (a crash of a forward pass, or shutdown) before this request finished."""


@dataclass(frozen=True)
class Output:
    """What a reader gets: every token generated so far (a snapshot), whether the request is done, and its error."""

    tokens: list[int]
    finished: bool
    error: str | None = None


class Ticket:
    """One request in the running batch: its outputs arrive in `mailbox`; `cancel()` may be called from any thread."""

    def __init__(self, engine: Engine, request_id: str) -> None:
        self.engine = engine
        self.request_id = request_id
        self.mailbox: queue.Queue[Output | EngineStopped | None] = queue.Queue()

    def next(self) -> Output | None:
        """The next snapshot of this request's tokens; None once it was cancelled. Raises EngineStopped."""
        while True:
            try:
                output = self.mailbox.get(timeout=1.0)
            except queue.Empty:
                if not self.engine.alive():  # the router wakes every reader when the loop ends: this is a safety net
                    raise EngineStopped(self.engine.failure() or "the generation loop stopped") from None
                continue
            if isinstance(output, EngineStopped):
                raise output
            return output

    def cancel(self) -> None:
        """Drop the request from the batch (Stop, the deadline, or its reader stopped early); wakes its reader."""
        self.engine.cancel(self)


class Engine:
    """One started `ContinuousBatchingManager` over a loaded model, with its KV cache sized for `concurrency` turns
    of `context_tokens` (prompt and answer) each, and the router that delivers each request's tokens."""

    def __init__(self, model: Any, generation_config: Any, concurrency: int, context_tokens: int,
                 graphs: bool = True) -> None:
        import torch
        from transformers import ContinuousBatchingConfig

        pages_per_turn = math.ceil(context_tokens / PAGE_SIZE)
        gpu = model.device.type != "cpu"
        if not gpu:
            _attend_per_request_on_cpus()
        config = ContinuousBatchingConfig(
            page_size=PAGE_SIZE, num_blocks=concurrency * pages_per_turn,
            max_batch_tokens=None if gpu else CPU_BATCH_TOKENS,
            # An engine for one turn (ZeroGPU) would capture graphs it never reuses.
            use_cuda_graph=None if graphs else False)
        self.pid = os.getpid()  # a forked process (ZeroGPU) cannot use this one's generation thread
        self.capacity_tokens = concurrency * pages_per_turn * PAGE_SIZE
        self._mailboxes: dict[str, Ticket] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.manager: Any = None
        self._released = threading.Event()
        ready: queue.Queue[BaseException | None] = queue.Queue()

        def own() -> None:
            try:
                with torch.inference_mode():  # the generation loop takes the inference mode of the thread starting it
                    self.manager = model.init_continuous_batching(generation_config=generation_config,
                                                                  continuous_batching_config=config)
                    self.manager.warmup()  # allocates the cache now (and captures CUDA graphs where they are used)
                    self.manager.start()
            except BaseException as error:  # raised in the thread that asked for the engine
                ready.put(error)
                return
            ready.put(None)
            self._released.wait()

        # One thread sets the manager up, starts its loop and then lives as long as the engine: on a CPU, generation
        # ran 3-6 times slower once the thread that had set the manager up had ended (SmolLM2 and the tiny model,
        # measured here), as it did when a request's thread (the first dialogue's) set it up. And as it is a daemon,
        # so is the generation thread it starts: transformers' own is not, and kept a finished command alive.
        self._owner = threading.Thread(target=own, name="batching-owner", daemon=True)
        self._owner.start()
        if (failure := ready.get()) is not None:
            raise failure
        # A daemon thread still inside a forward pass when the interpreter finalizes aborts the process ("terminate
        # called without an active exception"): stop the loop first, while exit handlers run.
        _RUNNING.add(self)
        threading.Thread(target=self._route, name="batching-router", daemon=True).start()

    def alive(self) -> bool:
        """Whether the generation loop runs and accepts requests."""
        return self.manager.is_running() and self.manager.background_thread_status.can_accept_new_requests() is None

    def failure(self) -> str | None:
        """Why the generation loop died, if it did."""
        error = self.manager.background_thread_status.fatal_error
        return None if error is None else f"{type(error).__name__}: {error}"

    def submit(self, input_ids: list[int], max_new_tokens: int) -> Ticket:
        """Add a greedy request to the running batch; its tokens stream to the ticket. Raises EngineStopped."""
        ticket = Ticket(self, uuid.uuid4().hex)
        with self._lock:
            self._mailboxes[ticket.request_id] = ticket
        if self.manager.add_request(input_ids, request_id=ticket.request_id, max_new_tokens=max_new_tokens,
                                    streaming=True) is None:  # the loop is stopping or dead
            with self._lock:
                self._mailboxes.pop(ticket.request_id, None)
            raise EngineStopped(self.failure() or "the generation loop is stopping")
        return ticket

    def cancel(self, ticket: Ticket) -> None:
        """Cancel a request that has not finished; a finished one is already gone, so this is then a no-op."""
        with self._lock:
            running = self._mailboxes.pop(ticket.request_id, None) is not None
        if running:
            self.manager.cancel_request(ticket.request_id)
            ticket.mailbox.put(None)

    def close(self) -> None:
        """Stop the generation loop (requests still running end with EngineStopped) and free the cache; once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self.manager.is_running():
                self.manager.stop(block=True, timeout=10)
            self.manager.destroy()
        finally:  # even when stopping failed (a loop stuck past the timeout), the owner thread is let go
            self._released.set()
        # The owner thread ends its inference-mode block and exits before the interpreter does: one still in torch
        # when the process ended aborted it ("terminate called without an active exception", exit 134; seen after
        # `app.simulate --backend transformers` had written its results).
        if threading.current_thread() is not self._owner:
            self._owner.join(timeout=10)

    def _route(self) -> None:
        """Move each output from the manager's one queue to its request's mailbox: the newest snapshot of each
        request at most every FLUSH_S, and at once when a request ends."""
        latest: dict[str, Any] = {}
        flushed = time.monotonic()
        while True:
            output = self.manager.get_result(timeout=FLUSH_S)
            if output is not None:
                latest[output.request_id] = output
            if latest and (output is None or output.is_finished() or time.monotonic() - flushed >= FLUSH_S):
                self._deliver(latest)
                latest, flushed = {}, time.monotonic()
            if output is None and not self.manager.is_running() and self.manager.output_router.output_queue.empty():
                break
        reason = self.failure() or "the generation loop stopped"
        with self._lock:
            orphans, self._mailboxes = list(self._mailboxes.values()), {}
        for ticket in orphans:
            ticket.mailbox.put(EngineStopped(reason))

    def _deliver(self, outputs: dict[str, Any]) -> None:
        for request_id, output in outputs.items():
            finished = output.is_finished()
            with self._lock:
                ticket = self._mailboxes.pop(request_id, None) if finished else self._mailboxes.get(request_id)
            if ticket is not None:  # None: cancelled, its reader is gone
                ticket.mailbox.put(Output(list(output.generated_tokens), finished, output.error))


_RUNNING: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _close_running_engines() -> None:
    for engine in list(_RUNNING):
        try:
            engine.close()
        except Exception:  # one engine that cannot stop leaves the others to close
            log.exception("a batching engine could not be closed at exit")
