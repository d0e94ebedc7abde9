"""Goal-driven dialogues: the goal checker (`checker`), the goal-reading oracle (`oracle`), the rule-based system
(`rules/`, built for every surface by `systems`), user simulators (`users/`), reports and statistics (`report`,
`stats`), forking a run's dialogue at an event (`fork`) and the command (`cli`, run as `python -m app.simulate`).
May import every floor below it: `app.evaluation`, `app.workbench`, `app.assembly`, `app.agent`, `app.tools`,
`app.backends`, `app.dialogue`, `app.settings`, `db`, `domains`.
"""
