"""The APIs the agent calls: the toolbox (`toolbox`: tools derived from the domain declarations, one typed
answer per call) and its JSON-lines door (`door`, run as `python -m app.tools`). May import `app.dialogue`,
`app.settings`, `db` and `domains`.
"""
