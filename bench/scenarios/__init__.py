"""The scenarios, by name: each runs the chat server against a baseline in interleaved slices.

Every scenario is bounded in count (a `Scale`) and in time (deadlines on every wait), starts
its own servers on loopback and always stops them. `scale` says how big a run is,
`chat_vs_echo` holds the four scenarios measured against the echo server, `cluster` the one
that compares one chat process on Redis with two.
"""

from __future__ import annotations

from .chat_vs_echo import conversations, idle, storm, typing
from .cluster import redis_two_process

SCENARIOS = {"idle": idle, "conversations": conversations, "storm": storm, "typing": typing,
             "redis_two_process": redis_two_process}
