"""The event store: append-only events, projections, accounts and the knowledge-base tables,
on SQLite (`sqlite.py`, one machine, the default) or PostgreSQL (`postgres.py`, several
machines), behind one `Store` (`store.py`) and its group-committing writer thread.

The schema is a list of numbered migrations per backend (`schema.py`, `schema_postgres.py`);
the store's SQL is written once and translated for PostgreSQL (`dialect.py`); `copy.py` moves
a desk from SQLite to PostgreSQL. Imports: `core`, the standard library, aiosqlite, psycopg,
`bot` and `knowledge_base`; nothing above it. The web edge reaches the store only through
`store` (the `Store`) and `kb_store`, never the backends, the schema or the writer.
"""
