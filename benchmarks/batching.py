"""Continuous batching in the local backend: generated tokens per second and time to first token for 1, 4, 8 and 16
dialogues at once through the real agent loop (CoALM format, the toolbox, the transformers backend), the share
of greedy answers that batching leaves exactly as one-at-a-time `generate` wrote them, and `app.simulate
--workers 8` against `--workers 1`.

    python -m benchmarks.batching                                   # the tiny model and SmolLM2 on the CPU
    python -m benchmarks.batching --models smollm --levels 1 8      # one model, some levels
    python -m benchmarks.batching --device cuda --shape coalm-8b    # random CoALM-8B-shaped bf16 weights on a GPU

At each level N, N dialogues run at once (at level 1, two one after the other), each two user turns of at most
two model calls of --max-new-tokens. Generated tokens: those the backend streamed to the dialogues.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.base import Delta, ModelRequest
from app.backends.transformers_backend import TransformersBackend
from app.dialogue.session import Messages, run_dialogue
from app.dialogue.transcript import Transcript
from app.tools.toolbox import Toolbox
from benchmarks.batching_models import coalm_8b_shaped, load_folder, references, smollm_folder, tiny_folder

OPENERS = ["I need a cheap hotel in the north", "Find me a train from cambridge to ely on friday",
           "Is there an italian restaurant in the centre?", "I want to visit a museum in the west",
           "Book a taxi from the station to the hotel at 10:15", "A moderately priced guesthouse with parking",
           "Trains to london kings cross leaving after 9am on monday", "An expensive restaurant serving indian food",
           "What colleges can I see in the centre?", "A 4 star hotel in the east with free wifi",
           "I need a train to stansted airport on sunday", "Somewhere cheap to eat in the south",
           "A swimming pool in the north please", "Book the acorn guest house for 2 people", "Any nightclubs?",
           "I need to arrive in cambridge by 18:00 on tuesday"]
FOLLOWUPS = ["Yes, please book it for 2 people.", "What is the address?", "Thanks, and the phone number?",
             "Can you book that for friday at 7pm?"]


@dataclass
class Call:
    started: float
    first: float | None = None
    ended: float | None = None
    text: str = ""
    request: ModelRequest | None = field(default=None, repr=False)
    whole: bool = False  # the answer ran to its end (the agent may stop reading once it has a call)


class Measured:
    """The backend as the agent sees it, noting when each model call starts, its first text and its answer."""

    def __init__(self, backend: TransformersBackend) -> None:
        self.backend, self.label = backend, backend.label
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def count_tokens(self, request: ModelRequest) -> int:
        return self.backend.count_tokens(request)

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        # A copy as sent: the agent goes on to build its next prompt from the same messages.
        call = Call(time.monotonic(), request=copy.deepcopy(request))
        with self._lock:
            self.calls.append(call)
        for delta in self.backend.stream(request):
            if call.first is None and getattr(delta, "text", ""):
                call.first = time.monotonic()
            call.text += getattr(delta, "text", "")
            yield delta
        call.ended, call.whole = time.monotonic(), True


@dataclass(frozen=True)
class Row:
    at_once: int
    dialogues: int
    calls: int
    tokens: int
    seconds: float
    ttft_median: float
    ttft_p90: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def dialogues_at_once(backend: TransformersBackend, toolbox: Toolbox, at_once: int, max_new: int,
                      format_name: str) -> tuple[Row, list[Call]]:
    measured = Measured(backend)
    prompt_format = make_format(format_name, toolbox.tools)
    limits = Limits(max_steps=2, max_new_tokens=max_new, turn_deadline_s=None)
    total = max(at_once, 2)

    def one(number: int) -> None:
        agent = Agent(measured, prompt_format, toolbox, limits)
        said = [OPENERS[number % len(OPENERS)], FOLLOWUPS[number % len(FOLLOWUPS)]]
        for _event in run_dialogue(agent, Messages(said), Transcript()):
            pass

    started, before = time.monotonic(), backend.generated_tokens
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        list(pool.map(one, range(total)))
    seconds = time.monotonic() - started
    tokens = backend.generated_tokens - before
    waits = sorted(call.first - call.started for call in measured.calls if call.first is not None) or [float("nan")]
    p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))]
    return Row(at_once, total, len(measured.calls), tokens, seconds, statistics.median(waits), p90), measured.calls


def table(title: str, rows: list[Row]) -> str:
    one = rows[0].tokens_per_s
    lines = [f"\n{title}", "| dialogues at once | model calls | generated tokens | seconds | tokens/s | x one dialogue "
             "| first token median s | first token p90 s |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.at_once} | {r.calls} | {r.tokens} | {r.seconds:.1f} | {r.tokens_per_s:.1f} | "
              f"{r.tokens_per_s / one:.2f} | {r.ttft_median:.2f} | {r.ttft_p90:.2f} |" for r in rows]
    return "\n".join(lines)


def equivalence(source: str, device: str, calls: list[Call], limit: int) -> str:
    """How many of the batched answers one-at-a-time `generate` (in a fresh process, `references`) writes exactly
    alike, and where the others part."""
    chosen = [c for c in calls if c.request is not None][:limit]
    alone = references(source, device, [c.request for c in chosen if c.request is not None])

    def alike(a: str, c: Call) -> bool:  # an answer the agent stopped reading is compared as far as it was read
        return a == c.text if c.whole else a.startswith(c.text)

    same = sum(alike(a, c) for a, c in zip(alone, chosen, strict=True))
    parts = [f"{same} of {len(chosen)} batched answers equal one-at-a-time greedy generate exactly (as far as the "
             f"agent read them: {sum(not c.whole for c in chosen)} it stopped reading once it had a call)"]
    for a, c in zip(alone, chosen, strict=True):
        if not alike(a, c):
            at = next((i for i, (x, y) in enumerate(zip(a, c.text, strict=False)) if x != y),
                      min(len(a), len(c.text)))
            parts.append(f"  differs at character {at} of {max(len(a), len(c.text))}: alone {a[at:at + 30]!r}, "
                         f"batched {c.text[at:at + 30]!r}")
    return "\n".join(parts)


def simulate(folder: Path, goals: int, workers: int, out: Path, max_new: int, format_name: str
             ) -> tuple[float, dict[str, Any]]:
    """`python -m app.simulate` with the agenda user against the local model; seconds and verdicts by goal."""
    command = [sys.executable, "-m", "app.simulate", "--backend", "transformers", "--model", str(folder),
               "--format", format_name, "--user", "agenda", "--goals", str(goals), "--max-turns", "2",
               "--max-steps", "2", "--workers", str(workers), "--out", str(out)]
    env = {**os.environ, "WOZ_MAX_NEW_TOKENS": str(max_new), "WOZ_HOME": str(out.parent / "home")}
    started = time.monotonic()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    records = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines() if line.strip()]
    return seconds, {r["goal"]: r["verdict"] for r in records}


def single_stream(backend: TransformersBackend, new_tokens: int = 512) -> float:
    """Decoding speed of one request alone: tokens after the first, over the time since the first."""
    request = ModelRequest([{"role": "user", "content": "User: " + OPENERS[0]}], max_new_tokens=new_tokens)
    before, first = backend.generated_tokens, None
    for _delta in backend.stream(request):
        first = first or time.monotonic()
    ended = time.monotonic()
    return (backend.generated_tokens - before - 1) / (ended - first) if first else float("nan")


def run_model(name: str, source: str, model: Any, tokenizer: Any, toolbox: Toolbox, args: argparse.Namespace
              ) -> TransformersBackend:
    """The table for each format; `source` is where a fresh process finds the model again (`references`)."""
    backend = TransformersBackend.of_model(model, tokenizer, concurrency=max(args.levels),
                                           context_tokens=args.max_prompt_tokens + args.max_new_tokens)
    for format_name in args.formats:
        dialogues_at_once(backend, toolbox, 1, args.max_new_tokens, format_name)  # warm up: first-call costs
        rows: list[Row] = []
        batched: list[Call] = []
        for at_once in args.levels:
            row, calls = dialogues_at_once(backend, toolbox, at_once, args.max_new_tokens, format_name)
            rows.append(row)
            batched = calls if at_once == 8 or not batched else batched
            print(f"  {name}, {format_name}: {at_once} at once, {row.tokens_per_s:.1f} tokens/s", flush=True)
        prompts = sorted(backend.count_tokens(c.request) for c in batched if c.request is not None)
        print(table(f"{name} ({model.device}, {model.dtype}), {format_name} format (prompts of {prompts[0]}-"
                    f"{prompts[-1]} tokens), {args.max_new_tokens} new tokens a call at most", rows), flush=True)
        if args.equivalence:
            print(equivalence(source, args.device, batched, args.equivalence), flush=True)
    return backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["tiny", "smollm"])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--shape", choices=["coalm-8b"], help="random weights of this shape instead (--device cuda)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--formats", nargs="+", choices=["coalm", "tools"], default=["coalm", "tools"],
                        help="prompt formats (SmolLM2's chat template leaves the tool list out of the tools format)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-prompt-tokens", type=int, default=3584)
    parser.add_argument("--equivalence", type=int, default=16, help="batched answers to check against generate")
    parser.add_argument("--simulate-goals", type=int, default=16, help="goals for app.simulate (SmolLM2); 0: skip")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        toolbox = benchmark_toolbox(base)
        if args.shape:
            model, tokenizer, bound, said = coalm_8b_shaped(args.device)
            print(said, flush=True)
            backend = run_model("random CoALM-8B shape", "coalm-8b", model, tokenizer, toolbox, args)
            alone = single_stream(backend)
            backend.close()
            print(f"single stream: {alone:.0f} tokens/s, {100 * alone / bound:.0f}% of the bandwidth bound "
                  f"({bound:.0f} tokens/s)", flush=True)
            return
        for name in args.models:
            folder = tiny_folder(base) if name == "tiny" else smollm_folder(base)
            model, tokenizer = load_folder(folder, args.device)
            run_model({"tiny": "tiny offline model", "smollm": "SmolLM2-135M-Instruct"}[name], str(folder), model,
                      tokenizer, toolbox, args).close()  # its generation loop ends before the next one starts
            if name == "smollm" and args.simulate_goals:
                for format_name in args.formats:
                    compare_simulations(folder, args.simulate_goals, base, args.max_new_tokens, format_name)


def compare_simulations(folder: Path, goals: int, base: Path, max_new: int, format_name: str) -> None:
    one_s, one = simulate(folder, goals, 1, base / f"sim-{format_name}-1", max_new, format_name)
    eight_s, eight = simulate(folder, goals, 8, base / f"sim-{format_name}-8", max_new, format_name)
    same = sum(one[g] == eight.get(g) for g in one)
    print(f"\napp.simulate --backend transformers (SmolLM2) --format {format_name} --user agenda --goals {goals} "
          f"--max-turns 2 --max-steps 2, WOZ_MAX_NEW_TOKENS={max_new}: --workers 1 {one_s:.0f} s, --workers 8 "
          f"{eight_s:.0f} s ({one_s / eight_s:.2f}x faster); same verdict for {same} of {len(one)} goals", flush=True)


def benchmark_toolbox(base: Path) -> Toolbox:
    """The MultiWOZ database where the data is at hand; else empty tables (a random model calls no tool right)."""
    from app.settings import Settings
    from db.engine import make_engine
    from db.schema import create_all

    settings = Settings(home=base / "home")
    if settings.data_dir is not None:
        return Toolbox.open(settings)
    engine = make_engine(f"sqlite:///{base / 'empty.sqlite3'}")
    create_all(engine)
    return Toolbox(engine)


if __name__ == "__main__":
    main()
