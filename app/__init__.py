"""The application, in folders by role. Floors, lowest first; a folder imports only from floors below it:

0. `app.settings` (with `domains/`): configuration; imports nothing of the project.
1. `db/`: storage (engine, schema, importer, catalogue, bookings, availability); imports only `domains`.
2. `app.dialogue`: events, the transcript, the session loop, goals.
3. `app.backends`, `app.tools`: model backends; the toolbox and its JSON-lines door.
4. `app.agent`: the agent, belief, output parsing, prompt formats and prompts.
5. `app.assembly`: the one assembler of a system under test, and the shared command-line flags.
6. `app.evaluation`, `app.workbench`: turn-level evaluation; questions, review queue, arena, results, stores.
7. `app.simulation`: goal-driven dialogues, the goal checker, oracles, user simulators, reports.
8. `app.ui`, `app.chat` and the command aliases (`app.evaluate`, `app.simulate`, `app.review`).
`tests/test_layers.py` reads the imports and holds every module to this.
"""
