"""Fixtures for every test module; the harness itself lives in harness.py and browser.py."""

from .browser import browser, no_policy_violations, page, phone, site
from .harness import anyio_backend, clients, server, shared_server

__all__ = ["anyio_backend", "browser", "clients", "no_policy_violations", "page", "phone",
           "server", "shared_server", "site"]
