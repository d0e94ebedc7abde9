"""Storage: engine, schema, the MultiWOZ importer, Find queries (`catalogue`), bookings and who decides their
availability. Imports only `domains`: nothing of `app/` (stores that need transcripts or questions live in
`app.workbench`).
"""
