"""The scenarios, by name: each runs the chat server against a baseline in interleaved slices.

Every scenario is bounded in count (a `Scale`) and in time (deadlines on every wait), starts
its own servers on loopback and always stops them. `scale` says how big a run is,
`chat_vs_echo` holds the four scenarios measured against the echo server, `cluster` the ones
that compare one chat process on Redis with two (the store on SQLite, or on PostgreSQL),
`storage` the conversations load on PostgreSQL against SQLite.
"""

from __future__ import annotations

from .chat_vs_echo import conversations, idle, storm, typing
from .cluster import pg_two_process, redis_two_process
from .storage import pg_conversations

SCENARIOS = {"idle": idle, "conversations": conversations, "storm": storm, "typing": typing,
             "redis_two_process": redis_two_process, "pg_conversations": pg_conversations,
             "pg_two_process": pg_two_process}
