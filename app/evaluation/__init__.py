"""MultiWOZ evaluation: test data, label versions, metrics (JGA, Inform, Success, BLEU), the gold oracle."""
