"""The judges' workbench: rating questions (`questions`), agreement and ranking statistics (`agreement`,
`ranking`), the arena (`arena`), results and exports (`results`, `training_data`), the run folders the Runs
tab reads (`runs`), the review queue's command (`review_cli`, run as `python -m app.review`), and their stores
and tables (`annotations`, `review_store`, `arena_store`, `tables`). May import `app.assembly` and every floor
below it; not `app.simulation` or `app.ui`.
"""
