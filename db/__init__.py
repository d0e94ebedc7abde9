"""Database access: engine, schema, the MultiWOZ importer, Find queries and bookings."""
