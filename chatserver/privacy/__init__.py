"""What is kept about people and for how long: data rights (find, export, erase a visitor),
retention, redaction of logs and transcripts, the audit log, and the per-address and
per-socket limits that keep abuse out.

Imports: `core`, `store`, the top-level config, the standard library and starlette (the
request an audit entry is made from); never `service`, `cluster` or `web`.
"""
