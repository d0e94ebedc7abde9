"""`python -m app.tools`: the JSON-lines door (app.tools.door)."""

from app.tools.door import main

main()
