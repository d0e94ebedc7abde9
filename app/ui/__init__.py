"""The UI: the Gradio page (`layout`) and its tabs, which only render what the handlers return: the chat (`demo`,
`view`), Play a goal (`goal_play`, `goal_card`), Watch a goal (`goal_watch`), forking into the chat (`fork_panel`),
the workbench tabs (`review_tab`, `arena_tab`, `results_tab`, `runs_tab`). The top floor: may import anything below
it; nothing imports it but `app.py`.
"""
