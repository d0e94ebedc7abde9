"""The agent: the turn loop that yields typed events (`agent`), the belief tracker (`belief`), reading model
output (`parsing`, `call_syntax`, `markers`), the prompt formats (`formats/`) and their prompts (`prompts/`).
May import `app.dialogue`, `app.backends`, `app.tools`, `app.settings`, `db` and `domains`.
"""
