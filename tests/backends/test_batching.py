"""The local backend serves concurrent turns from one running batch (transformers' continuous batching): the
same greedy text as one at a time, streams that run at the same time, Stop and failures that touch one turn only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import pytest

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.base import BackendError, ModelRequest, TextDelta
from app.backends.transformers_backend import TransformersBackend
from app.dialogue.session import OneMessage, run_dialogue
from app.dialogue.transcript import AgentSaid, Transcript, TurnFailed
from app.settings import REPO_ROOT

WORDS = ["cheap", "expensive", "north", "south", "friday", "ely", "taxi", "museum"]


def request(number: int, max_new_tokens: int = 48, stop: tuple[str, ...] = ()) -> ModelRequest:
    text = f"User: I need a {WORDS[number % 8]} hotel near {WORDS[(3 * number) % 8]} for {number} people"
    return ModelRequest([{"role": "user", "content": text}], stop=stop, max_new_tokens=max_new_tokens)


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    backend = TransformersBackend(str(tiny_model_dir), concurrency=4, context_tokens=4096)
    backend.load()
    return backend


def text_of(backend, req: ModelRequest) -> str:
    return "".join(d.text for d in backend.stream(req) if isinstance(d, TextDelta))


def at_once(backend, requests: list[ModelRequest]) -> list[str]:
    texts: list[str | None] = [None] * len(requests)

    def run(index: int) -> None:
        texts[index] = text_of(backend, requests[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return texts


def one_at_a_time(model_dir, requests: list[ModelRequest]) -> list[str]:
    """What the backend did before batching: `model.generate` on one request at a time (a model instance of its
    own), greedy, with generate's own stop strings, decoded incrementally as the backend decodes."""
    import torch
    from tokenizers.decoders import DecodeStream
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    texts = []
    for req in requests:
        ids = tokenizer.apply_chat_template(req.messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
        stops = {"stop_strings": list(req.stop), "tokenizer": tokenizer} if req.stop else {}
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=req.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, **stops)
        decoder = DecodeStream(skip_special_tokens=True)
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        texts.append("".join(piece for token in new if (piece := decoder.step(tokenizer.backend_tokenizer, token))))
    return texts


def test_batched_greedy_text_is_the_one_at_a_time_text(backend, tiny_model_dir):
    plain = [request(n) for n in range(6)]
    alone = one_at_a_time(tiny_model_dir, plain)
    # Each request's stop string is a word of its own answer, so every one of them stops early, at its own place.
    stopping = [request(n, stop=(re.search(r"[A-Za-z]{3,}", text[4:])[0],)) for n, text in enumerate(alone)]
    requests = plain + stopping
    expected = alone + one_at_a_time(tiny_model_dir, stopping)
    assert all(len(s) < len(t) for s, t in zip(expected[6:], alone, strict=True))
    assert at_once(backend, requests) == expected


def test_concurrent_streams_run_at_the_same_time(backend):
    """Two long answers: each has streamed text before the other is finished (one at a time, the second
    started only after the first had ended)."""
    times: dict[int, list[float]] = {0: [], 1: []}

    def run(index: int) -> None:
        for _ in backend.stream(request(index, max_new_tokens=1500)):
            times[index].append(time.monotonic())

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(times[0]) > 3 and len(times[1]) > 3
    assert times[0][0] < times[1][-1] and times[1][0] < times[0][-1]
    overlap = [t for t in times[0] if times[1][0] < t < times[1][-1]]
    assert len(overlap) > 2  # not merely touching: both streamed for a while together


def active_requests(backend) -> list[str]:
    """The requests transformers' scheduler still holds in the running batch."""
    processor = backend._engine.manager.batch_processor
    return [*processor.scheduler.active_requests, *processor.scheduler.waiting_requests]


def wait_until_idle(backend, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not active_requests(backend):
            return True
        time.sleep(0.02)
    return False


def test_closing_one_stream_drops_its_request_and_leaves_the_other_alone(backend):
    other = request(1, max_new_tokens=300)
    expected = text_of(backend, other)
    result: list[str] = []
    started = threading.Event()

    def run_other() -> None:
        pieces = []
        for delta in backend.stream(other):
            if isinstance(delta, TextDelta):
                pieces.append(delta.text)
                started.set()
        result.append("".join(pieces))

    thread = threading.Thread(target=run_other)
    thread.start()
    stopped = backend.stream(request(0, max_new_tokens=2000))
    next(stopped)
    started.wait(30)
    stopped.close()  # what the agent does on Stop
    thread.join(60)
    assert result == [expected]  # the other answer ran to its end, unchanged
    assert wait_until_idle(backend)  # the stopped request left the batch (2000 tokens would take far longer)


def test_cancel_from_another_thread_ends_the_stream_at_once(backend):
    stream = backend.stream(request(2, max_new_tokens=2000))
    next(stream)
    threading.Timer(0.2, stream.cancel).start()  # the agent's thread, on Stop or at the deadline
    started = time.monotonic()
    rest = list(stream)
    assert time.monotonic() - started < 5 and len("".join(d.text for d in rest if isinstance(d, TextDelta))) < 4000
    assert wait_until_idle(backend)


def test_stop_in_one_dialogue_leaves_the_other_turn_running(backend, toolbox):
    """Two dialogues through the agent at once: Stop in one ends its turn within moments (its text so far kept,
    marked stopped); the other turn finishes as it would have alone."""
    limits = Limits(max_steps=1, max_new_tokens=400)
    agent = Agent(backend, make_format("tools", toolbox.tools), toolbox, limits)
    alone = Transcript()
    list(run_dialogue(agent, OneMessage("I need a hotel in the north"), alone))
    stop = threading.Event()
    stopped, other = Transcript(), Transcript()
    finished: list[float] = []

    def run_other() -> None:
        list(run_dialogue(agent, OneMessage("I need a hotel in the north"), other))
        finished.append(time.monotonic())

    thread = threading.Thread(target=run_other)
    thread.start()
    events = run_dialogue(Agent(backend, make_format("tools", toolbox.tools), toolbox,
                                Limits(max_steps=1, max_new_tokens=4000)), OneMessage("a train to ely"), stopped,
                          stop=stop)
    next(events)  # the user's message is in
    threading.Timer(0.5, stop.set).start()
    pressed = time.monotonic() + 0.5
    last = list(events)[-1]
    # Stopped mid-reply, the text so far stays as the turn's reply, marked stopped; before any text, "Stopped.".
    assert ((isinstance(last, AgentSaid) and last.stopped) or (isinstance(last, TurnFailed)
                                                                and last.message == "Stopped."))
    assert time.monotonic() - pressed < 2
    thread.join(60)
    assert finished and other.last_turn().reply is not None
    assert [type(e) for e in other.events] == [type(e) for e in alone.events]
    assert other.last_turn().reply.text == alone.last_turn().reply.text


def test_a_request_too_big_for_the_cache_fails_only_its_own_turn(tiny_model_dir, toolbox):
    small = TransformersBackend(str(tiny_model_dir), concurrency=1, context_tokens=512)  # a cache of 512 tokens
    fits = text_of(small, request(3, max_new_tokens=200))
    agent = Agent(small, make_format("coalm", toolbox.tools), toolbox, Limits(max_steps=1, max_new_tokens=200))
    too_long = Transcript()
    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(text_of(small, request(3, max_new_tokens=200))))
    thread.start()
    last = list(run_dialogue(agent, OneMessage("a cheap hotel"), too_long))[-1]  # CoALM's prompt: ~2,000 tokens
    thread.join(60)
    assert isinstance(last, TurnFailed) and "WOZ_LOCAL_CONCURRENCY" in last.message
    assert too_long.open_turn() is not None  # kept, with Retry
    assert results == [fits]


def test_a_crashed_forward_pass_fails_the_running_turns_and_the_next_turn_works(tiny_model_dir, monkeypatch):
    """A forward pass that raises (out of memory, say) ends transformers' generation loop and every turn in
    that batch; the backend starts a fresh loop for the next request."""
    from transformers import LlamaForCausalLM

    backend = TransformersBackend(str(tiny_model_dir), concurrency=2, context_tokens=1024)
    expected = text_of(backend, request(4))
    forward, calls = LlamaForCausalLM.forward, []

    def fails_on_the_fifth_call(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("CUDA out of memory (a simulated one)")
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", fails_on_the_fifth_call)
    with pytest.raises(BackendError, match="out of GPU memory while answering"):
        text_of(backend, request(4, max_new_tokens=200))
    assert text_of(backend, request(4)) == expected


def test_on_zero_gpu_each_turn_has_an_engine_of_its_own(tiny_model_dir, monkeypatch):
    """On ZeroGPU a GPU exists only inside the turn's `spaces.GPU` call: nothing runs the model outside a turn."""
    monkeypatch.setenv("SPACES_ZERO_GPU", "1")
    loops = lambda: [t for t in threading.enumerate() if "_run_generation_loop" in t.name]  # noqa: E731
    before = len(loops())
    backend = TransformersBackend(str(tiny_model_dir))
    backend.load()
    assert len(loops()) == before  # loading starts no generation loop
    monkeypatch.delenv("SPACES_ZERO_GPU")
    shared = TransformersBackend(str(tiny_model_dir), concurrency=1)
    assert text_of(backend, request(5)) == text_of(shared, request(5))
    deadline = time.monotonic() + 10
    while len(loops()) > before + 1 and time.monotonic() < deadline:  # only `shared`'s loop is left
        time.sleep(0.05)
    assert len(loops()) == before + 1


def test_a_command_that_used_the_model_exits_cleanly_even_mid_answer(tiny_model_dir):
    """transformers' generation thread is not a daemon (started as it comes, it kept a finished command alive); as
    a daemon still inside a forward pass when the interpreter finalized, it aborted the process (exit 134)."""
    code = ("from app.backends.transformers_backend import TransformersBackend\n"
            "from app.backends.base import ModelRequest\n"
            f"backend = TransformersBackend({str(tiny_model_dir)!r}, concurrency=2, context_tokens=4096)\n"
            "answer = backend.stream(ModelRequest([{'role': 'user', 'content': 'hi'}], max_new_tokens=3000))\n"
            "print(next(answer).text)\n")  # and exit while the model is still answering
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, timeout=120, capture_output=True,
                              text=True)
        assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-2000:]


def test_app_simulate_with_the_local_model_exits_cleanly(tiny_model_dir, raw_db_dir, tmp_path):
    """`python -m app.simulate --backend transformers` wrote its results and then aborted (exit 134, "terminate called
    without an active exception") in 3 of 3 tries: the engine, closed at exit, left its owner thread still in torch
    as the interpreter finalized. The owner thread is now joined when the engine closes."""
    test_dir = REPO_ROOT.parent / "shared" / "multiwoz"
    if not (test_dir / "test_mwz21" / "test.json").is_file():
        pytest.skip("the MultiWOZ test files are not beside the repository")
    command = [sys.executable, "-m", "app.simulate", "--backend", "transformers", "--model", str(tiny_model_dir),
               "--format", "coalm", "--user", "agenda", "--goals", "1", "--max-turns", "1", "--max-steps", "2",
               "--test-dir", str(test_dir), "--out", str(tmp_path / "sim")]
    env = {**os.environ, "WOZ_HOME": str(tmp_path / "home"), "WOZ_DATA_DIR": str(raw_db_dir),
           "WOZ_MAX_NEW_TOKENS": "32"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, timeout=300, capture_output=True, text=True)
    assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-2000:]
    assert (tmp_path / "sim" / "metrics.json").is_file()


def test_attention_per_request_is_the_dense_masked_product_at_the_cost_of_each_requests_own_keys():
    """On a CPU the batch's attention runs once per request (a prefill chunk beside other dialogues paid for all
    their keys): the same numbers as transformers' dense product under its block-diagonal mask."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from app.backends.batching import _attention_per_request

    class Attention(torch.nn.Module):
        num_key_value_groups = 3  # 6 query heads share 2 key/value heads, as in Llama
        is_causal = True

    torch.manual_seed(0)
    queries, past = [5, 1, 4], [7, 9, 0]  # a prefill chunk after 7 cached tokens, a decode step, a fresh prompt
    keys = [q + p for q, p in zip(queries, past, strict=True)]
    cu_q = torch.tensor([0, *torch.tensor(queries).cumsum(0).tolist()], dtype=torch.int32)
    cu_k = torch.tensor([0, *torch.tensor(keys).cumsum(0).tolist()], dtype=torch.int32)
    query = torch.randn(1, 6, sum(queries), 8)
    key, value = torch.randn(1, 2, sum(keys), 8), torch.randn(1, 2, sum(keys), 8)
    mask = torch.full((1, 1, sum(queries), sum(keys)), torch.finfo(torch.float32).min)
    for q0, q, k0, p in zip(cu_q.tolist(), queries, cu_k.tolist(), past, strict=False):
        for j in range(q):  # each query token sees its own request's keys up to itself
            mask[0, 0, q0 + j, k0:k0 + p + j + 1] = 0
    batch = {"is_causal": False, "cu_seq_lens_q": cu_q, "cu_seq_lens_k": cu_k}
    dense, _ = sdpa_attention_forward(Attention(), query, key, value, mask, **batch)
    split, _ = _attention_per_request(Attention(), query, key, value, mask, **batch)
    assert split.shape == dense.shape == (1, sum(queries), 6, 8) and torch.allclose(split, dense, atol=1e-5)
    # Split, not handed on: where the mask let requests see each other, only their own keys count.
    leaky = torch.zeros_like(mask)
    assert not torch.allclose(_attention_per_request(Attention(), query, key, value, leaky, **batch)[0],
                              sdpa_attention_forward(Attention(), query, key, value, leaky, **batch)[0], atol=1e-3)
