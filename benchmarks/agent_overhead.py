"""The agent loop's own cost, and the transformers backend against a bare `model.generate`.

    python -m benchmarks.agent_overhead [--dialogues 60] [--generations 20]

1. Scripted backend, ten-turn dialogues (each turn: an action step with a Find call, then a reply): time per
   turn minus the time spent inside the API calls. Target: under 5 ms per turn.
2. The tiny offline model: the same prompt through TransformersBackend.stream (thread, streamer, stop
   criteria) and through model.generate directly. Target: within 10%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from app.agent.agent import Agent
from app.agent.formats import make_format
from app.backends.base import ModelRequest
from app.backends.scripted import ScriptedBackend
from app.backends.transformers_backend import TransformersBackend
from app.dialogue.session import OneMessage, run_dialogue
from app.dialogue.transcript import ToolAnswered, Transcript
from app.settings import Settings
from app.tools.toolbox import Toolbox
from domains.values import WEEKDAYS

TURNS = 10


def loop_overhead(toolbox: Toolbox, dialogues: int, format_name: str) -> list[float]:
    per_turn = []
    for number in range(dialogues):
        outputs = []
        for turn in range(TURNS):
            day = WEEKDAYS[(number + turn) % 7]
            outputs += [f"Thought: trains\nAction: FindTrain(departure='cambridge', day='{day}', leaveat='10:00')",
                        f"System: There are several trains on {day}; the first leaves at 10:00. " * 2]
        agent = Agent(ScriptedBackend(outputs, piece_chars=4), make_format(format_name, toolbox.tools), toolbox)
        transcript = Transcript()
        for turn in range(TURNS):
            started = time.perf_counter()
            api_ms = sum(e.elapsed_ms for e in run_dialogue(agent, OneMessage(f"a train on turn {turn} please"),
                                                            transcript) if isinstance(e, ToolAnswered))
            per_turn.append((time.perf_counter() - started) * 1000 - api_ms)
    return per_turn


def generation_overhead(generations: int) -> tuple[float, float, float]:
    import torch

    from tests.tiny_model import build_tiny_model

    folder = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    backend = TransformersBackend(str(folder))
    backend.load()
    request = ModelRequest([{"role": "user", "content": "User: I need a cheap hotel in the north"}],
                           max_new_tokens=128)
    model, tokenizer = backend._model, backend._tokenizer  # the same instance the backend drives
    encoded = tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)

    def bare() -> None:
        with torch.inference_mode():
            model.generate(**encoded, max_new_tokens=128, do_sample=False, pad_token_id=tokenizer.pad_token_id)

    def through_backend() -> None:
        for _ in backend.stream(request):
            pass

    timings = {bare: [], through_backend: []}
    for _ in range(3):
        bare(), through_backend()  # warm up
    for _ in range(generations):  # interleaved, so drift in machine load hits both alike
        for run in timings:
            started = time.perf_counter()
            run()
            timings[run].append((time.perf_counter() - started) * 1000)
    # Each pair ran back to back, so the median of per-pair ratios cancels slow drift in machine speed.
    ratio = statistics.median(b / a for a, b in zip(timings[bare], timings[through_backend], strict=True))
    return statistics.median(timings[bare]), statistics.median(timings[through_backend]), ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dialogues", type=int, default=60)
    parser.add_argument("--generations", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        toolbox = Toolbox.open(Settings(home=Path(home)))
        for format_name in ("coalm", "tools"):
            costs = sorted(loop_overhead(toolbox, args.dialogues, format_name))
            print(f"loop cost per turn, {format_name} format ({len(costs)} turns, API time excluded): "
                  f"median {statistics.median(costs):.2f} ms, p95 {costs[int(len(costs) * 0.95)]:.2f} ms "
                  f"(target < 5 ms): {'PASS' if statistics.median(costs) < 5 else 'FAIL'}")
    bare, backend, ratio = generation_overhead(args.generations)
    overhead = (ratio - 1) * 100
    print(f"tiny model, 128 new tokens: bare generate {bare:.1f} ms, backend stream {backend:.1f} ms "
          f"({overhead:+.1f}%, target within 10%): {'PASS' if overhead < 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
