"""The audit page's `?before=` (an entry id, from its 'Older entries' link): a value that is not
an id is a refusal or the first page, never a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Server, add_user
from .test_kb_api import Session


@pytest.fixture(scope="module")
def auditor(shared_server: Server) -> Iterator[Session]:
    add_user(shared_server.db, "auditroot", role="admin")
    session = Session(shared_server, "auditroot")
    yield session
    session.close()


@pytest.mark.parametrize("before", ["\u00b2", "9" * 25, "\u0667", "-3"])
def test_audit_page_with_an_odd_before_is_not_a_server_error(
        shared_server: Server, auditor: Session, before: str) -> None:
    """?before=² (a superscript two, which str.isdigit() accepts and int() refuses), a 25-digit
    id (past what the database holds), an Arabic-Indic seven or a negative number: a 400 (or
    the first page), never a 500 with a traceback in the log."""
    page = auditor.get("/admin/audit", params={"before": before})
    assert page.status_code < 500, page.status_code
    assert "Traceback" not in shared_server.log.read_text()


def test_audit_page_pages_back_with_a_real_before(auditor: Session) -> None:
    """An ordinary id still pages back (the refusal is for odd values only)."""
    assert auditor.get("/admin/audit", params={"before": "1"}).status_code == 200
    assert auditor.get("/admin/audit").status_code == 200
