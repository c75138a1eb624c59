"""Databases for tests that run on both store backends: a SQLite file in the test's folder,
or a PostgreSQL database of the test's own, created with a unique name and dropped after.

PostgreSQL is the service at 127.0.0.1:5432 (user postgres, trust authentication), or
whatever TEST_POSTGRES_URL names. Where none answers, the PostgreSQL cases are skipped
with the reason (`make test` starts one when it can: see the Makefile)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgres"]


def _admin() -> object:
    import psycopg

    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {error}".splitlines()[0])


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards (even if connections remain)."""
    admin = _admin()
    name = f"chat_test_{uuid.uuid4().hex[:16]}"
    admin.execute(f"CREATE DATABASE {name}")  # type: ignore[attr-defined]
    try:
        yield database_url(name)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@contextlib.contextmanager
def location(backend: str, folder: Path) -> Iterator[str]:
    """Where a store of this backend lives for one test: a file path or a database URL."""
    if backend == "sqlite":
        yield str(folder / "chat.db")
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(params=BACKENDS)
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test runs once per backend, each with an empty database."""
    with location(request.param, tmp_path) as where:
        yield where
