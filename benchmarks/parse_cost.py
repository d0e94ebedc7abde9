"""Parse and reply-stream cost against output length: it should grow linearly.

    python -m benchmarks.parse_cost [--sizes 10000 20000 40000] [--chunk 4]

For each size, hostile shapes go through both parsers (CoALM text and JSON tools), and a reply of that length
goes through each format's reply streamer in `--chunk`-character pieces, as a slow server would send it.
Prints seconds per shape and size; linear growth means doubling the size doubles the time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from app.agent.formats.coalm import CoalmFormat
from app.agent.formats.native import NativeToolsFormat
from app.agent.parsing import parse_coalm, parse_json_calls

SHAPES: dict[str, Callable[[int], str]] = {
    "Action: + letters": lambda n: "Action: " + "a" * n,
    "Action: + words": lambda n: "Action: " + "FindHotel area north " * (n // 21),
    "( x n": lambda n: "(" * n,
    "Action: ( x n": lambda n: "Action: f" + "(" * n,
    "Action: f() x n/2": lambda n: "Action: f" + "()" * (n // 2),
    "{ + blank lines": lambda n: "{" + "\n" * n,
    "JSON nested": lambda n: '{"name": "A", "parameters": ' + "[" * (n // 2) + "]" * (n // 2) + "}",
}
SENTENCE = "The Acorn Guest House is a cheap guesthouse in the north with free parking. "


def seconds(work: Callable[[], object]) -> float:
    """Seconds the work took; NaN when it raised (the parsers promise never to)."""
    started = time.perf_counter()
    try:
        work()
    except Exception:  # a benchmark reports a raising parser instead of stopping
        return float("nan")
    return time.perf_counter() - started


def stream_all(make_stream: Callable[[], object], text: str, chunk: int) -> None:
    stream = make_stream()
    for start in range(0, len(text), chunk):
        stream.feed(text[start:start + chunk])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--chunk", type=int, default=4, help="characters per streamed piece")
    args = parser.parse_args()
    formats = {"coalm": CoalmFormat({}), "tools": NativeToolsFormat({})}
    print(f"{'shape':34}" + "".join(f"{size:>12,}" for size in args.sizes))
    for name, shape in SHAPES.items():
        texts = [shape(size) for size in args.sizes]
        for parse in (parse_coalm, parse_json_calls):
            times = [seconds(lambda p=parse, t=text: p(t)) for text in texts]
            print(f"{parse.__name__ + ': ' + name:34}" + "".join(f"{t:>11.3f}s" for t in times))
    for format_name, prompt_format in formats.items():
        times = []
        for size in args.sizes:
            text = ("System: " if format_name == "coalm" else "") + (SENTENCE * (size // len(SENTENCE) + 1))[:size]
            times.append(seconds(lambda t=text, f=prompt_format: stream_all(f.reply_stream, t, args.chunk)))
        print(f"{f'stream {format_name} in {args.chunk}-char pieces':34}" + "".join(f"{t:>11.3f}s" for t in times))


if __name__ == "__main__":
    main()
