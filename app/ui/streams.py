"""A streamed handler's last word. Gradio ends a streamed event by sending its last update again, whole; an event
the person started after that update showed (Done's verdict, a vote, New dialogue) and that landed before the
resend was drawn over by it (CI caught a verdict shown and then blanked). `settled` adds one last update that
changes nothing, so the resend is harmless and the page keeps what the person did last."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec

import gradio as gr

P = ParamSpec("P")


def settled(handler: Callable[P, Iterator[Any]], outputs: int) -> Callable[P, Iterator[Any]]:
    """`handler` (a generator of updates to `outputs` components), then one update that leaves all of them as
    they are."""

    @functools.wraps(handler)
    def streamed(*args: P.args, **kwargs: P.kwargs) -> Iterator[Any]:
        yield from handler(*args, **kwargs)
        yield tuple(gr.skip() for _ in range(outputs))

    return streamed
