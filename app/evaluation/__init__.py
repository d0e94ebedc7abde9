"""Turn-level MultiWOZ evaluation with mwzeval's semantics: test data and label versions (`data`, `labels`),
normalisation, venues and metrics (JGA, Inform, Success, BLEU), delexicalisation, the corpus replay, the gold
oracle, the runner and the command (`cli`, run as `python -m app.evaluate`). May import `app.assembly` and every
floor below it; not `app.simulation`, `app.workbench` or `app.ui`.
"""
