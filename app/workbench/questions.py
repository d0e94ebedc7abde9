"""The questions annotators answer, declared once: the review queue, agreement and results derive from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["reply", "dialogue"]
Level = Literal["nominal", "ordinal"]
DIALOGUE_TARGET = ""  # a dialogue-level answer's target; a reply's target is its event id


@dataclass(frozen=True)
class Question:
    """One question annotators answer: about a reply or the whole dialogue, with its options (nominal or
    ordinal, as agreement scores it)."""

    name: str
    label: str
    scope: Scope
    level: Level
    options: tuple[str, ...]  # in scale order for ordinal questions

    def check(self, value: str) -> str:
        """The value, when it is one of the options; a ValueError otherwise."""
        if value not in self.options:
            raise ValueError(f"{self.label}: {value!r} is not one of {', '.join(self.options)}")
        return value

    def code(self, value: str) -> int:
        """The value's position on the scale, as Krippendorff's alpha reads it."""
        return self.options.index(value)


FLAGS = ("Wrong API call", "Made up information", "Ignored the user")
QUESTIONS: tuple[Question, ...] = (
    Question("reply", "Reply", "reply", "nominal", ("like", "dislike")),
    *(Question(f"flag_{'_'.join(f.lower().split())}", f, "reply", "nominal", ("no", "yes")) for f in FLAGS),
    Question("task_completed", "Task completed?", "dialogue", "nominal", ("yes", "partly", "no")),
    Question("naturalness", "Naturalness (1-5)", "dialogue", "ordinal", ("1", "2", "3", "4", "5")),
)
BY_NAME = {q.name: q for q in QUESTIONS}


def question(name: str) -> Question:
    """The question of that name; a ValueError naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown question {name!r}; known: {', '.join(BY_NAME)}") from None


def of_scope(scope: Scope) -> tuple[Question, ...]:
    """The questions about a reply, or about the whole dialogue, in declaration order."""
    return tuple(q for q in QUESTIONS if q.scope == scope)
