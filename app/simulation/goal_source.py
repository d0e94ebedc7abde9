"""Where the goals to play come from: the MultiWOZ test goals, found or fetched as the databases are (a local
folder, WOZ_TEST_DIR; else the pinned download, checked by its SHA-256), or where neither has them, goals generated
from the database (`app.dialogue.goal_generator`), labelled as generated."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.dialogue.goal_generator import GENERATED_GOALS, generate_goals
from app.dialogue.goals import Goal, load_goals
from app.evaluation import data
from app.settings import Settings
from db.catalogue import Catalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GoalSet:
    """The goals to play, by id, and what they are, for people ("the 1,000 MultiWOZ test goals")."""

    goals: dict[str, Goal]
    source: str
    generated: bool = False

    @property
    def ids(self) -> list[str]:
        """The goal ids, in order."""
        return list(self.goals)


def find_goals(settings: Settings, catalogue: Catalogue | None) -> GoalSet:
    """The MultiWOZ test goals where they can be found or downloaded; else goals generated from the database; no
    goals only when there is no database either."""
    try:
        folder = data.locate(settings.test_dir, settings.home / "multiwoz-test", settings.download_timeout_s,
                             names=[data.GOALS_FILE])
    except data.TestDataUnavailable as error:
        log.warning("%s\nPlay a goal uses goals generated from the database instead.", error)
    else:
        goals = load_goals(folder)
        return GoalSet({goal.id: goal for goal in goals}, f"the {len(goals):,} MultiWOZ 2.1 test goals")
    if catalogue is None:
        return GoalSet({}, "no goals: the database is not available")
    generated = generate_goals(catalogue, GENERATED_GOALS)
    return GoalSet({goal.id: goal for goal in generated},
                   f"{len(generated)} goals generated from the database (the MultiWOZ test goals could not be "
                   "found or downloaded; WOZ_TEST_DIR names a folder holding them)", generated=True)
