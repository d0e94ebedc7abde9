"""User sides that pursue a goal: the agenda simulator, LLM simulators, and the check that they conveyed it."""
