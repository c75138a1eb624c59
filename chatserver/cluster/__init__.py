"""Getting a frame to the right socket and a chat to the right agent, in one process or many:
the live-socket registry (`connections`), the bus that fans frames out (memory or Redis), the
router interface with its local and Redis implementations, and the Redis Lua scripts (`lua/`).

The live sockets sit here rather than in `web` because the bus delivers to them: the bus's
memory backend is the registry itself. Imports: `core`, the standard library, `tokens`,
redis and starlette (the socket type); nothing from `store`, `service` or `web`.
"""
