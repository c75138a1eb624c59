"""The event store: the SQLite schema and its migrations, the `Store` (append-only events,
projections, accounts), its group-committing writer thread, and the knowledge-base tables.

`sqlite.py` is the backend in use; a server database would sit beside it behind the same
methods. Imports: `core`, the standard library, aiosqlite, `bot` and `knowledge_base`; nothing
above it. The web edge reaches the store only through `sqlite` (the `Store`) and `kb_store`,
never `schema` or `store_writer`.
"""
