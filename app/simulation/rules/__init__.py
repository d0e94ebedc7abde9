"""The rule-based system under test (`RulesBackend`): it understands the user's messages by rules, calls the tools
and answers from what they returned, never from the goal. `RulesBackend.factory(toolbox)` is the `backend_for`
that `app.assembly.assemble` builds it with."""

from app.simulation.rules.system import RulesBackend

__all__ = ["RulesBackend"]
