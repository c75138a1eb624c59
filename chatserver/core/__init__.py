"""The pure cores: the conversation state machine, the routing decision and board, ETA,
metrics and report formulas, Erlang and the queue simulation, staffing, wire frames and errors.

Plain data in, plain data out: no sockets, database, event loop, clock or global randomness
(time is passed in; the simulation takes a seeded `random.Random`). Imports: the standard
library, `bot`, `knowledge_base` and other modules of `core` only. tests/test_architecture.py
checks it, and mypy checks these modules strictly.
"""
