"""The agent, its model backends, settings, the UI and the command-line doors."""
