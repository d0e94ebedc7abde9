"""The systems under test that run without a model, built through `app.assembly` for every surface that offers
them: `python -m app.simulate --backend rules` and the page's Watch a goal and Play a goal."""

from __future__ import annotations

from app.assembly import SystemUnderTest, assemble
from app.settings import Settings
from app.simulation.rules import RulesBackend
from app.tools.toolbox import Toolbox

RULES = "rules"  # the rule-based system: what the user said and what the tools returned, never the goal
RULES_LABEL = "rule-based system (not a model)"  # how the page names it, so nobody takes it for CoALM
ORACLE_STEPS = 10  # Find, first booking, fallback, other venues, reply: more steps than a model needs


def rules_system(settings: Settings, toolbox: Toolbox) -> SystemUnderTest:
    """The rule-based system over `toolbox` (each dialogue its own RulesBackend), in the settings' prompt format."""
    return assemble(settings, toolbox, name=RULES, max_steps=ORACLE_STEPS, backend_for=RulesBackend.factory(toolbox))
