"""Fixtures for every test module; the harness itself lives in harness.py."""

from .harness import anyio_backend, clients, server, shared_server

__all__ = ["anyio_backend", "clients", "server", "shared_server"]
