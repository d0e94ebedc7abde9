"""A dialogue as one typed record: the events (`events`), the transcript and its views (`transcript`, with the
reader of the first saved format, `transcript_v1`), what a dialogue cost, read from its model calls (`costs`),
MultiWOZ goals (`goals`), and the one loop that drives every dialogue whoever plays the user (`session`).
May import `app.settings`, `db` and `domains`; nothing else of `app`.
"""
