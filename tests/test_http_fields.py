"""Query parameters, form fields and path segments keep the clients' character rule (issue 18
review): a NUL or another control character is a 400 naming the field, or at /login a wrong
login that counts as a failed attempt; never a 500 (PostgreSQL's text cannot hold U+0000),
never a traceback in the server log. Each case runs on SQLite and on PostgreSQL.

One server per backend for the module; the last test reads its whole log.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .databases import postgres_database
from .harness import PASSWORD, Server, add_user, sql

HERE = Path(__file__).parent
CONTROLS = ("\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f")  # C0, DEL, C1
# Every query parameter a handler reads, by path (POST for the import); {entry} is an entry id.
QUERY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "/login": ("failed",),
    "/admin/audit": ("action", "user", "before"),
    "/api/audit": ("action", "user", "target", "since", "until", "before", "limit"),
    "/api/privacy/visitors": ("q",),
    "/api/kb": ("q", "language", "status"),
    "/api/canned": ("scope", "q"),
    "/api/kb/export": ("format",),
    "/api/kb/import": ("format",),
    "/api/kb/proposals": ("status",),
    "/api/kb/unanswered": ("days",),
    "/api/kb/{entry}/diff": ("from", "to"),
    "/api/attachments/none": ("sig",),
    **{path: ("from", "to", "agent", "skill", "topic", "language")
       for path in ("/admin/reports", "/api/reports", "/admin/reports/agents.csv",
                    "/admin/reports/conversations.csv", "/admin/reports/staffing.csv")},
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def desk(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(request.param)
    with contextlib.ExitStack() as stack:
        database = (stack.enter_context(postgres_database()) if request.param == "postgres"
                    else None)
        server = Server(folder, database=database).start()
        stack.callback(server.stop)
        add_user(server.db, "root", role="admin")
        yield server


@pytest.fixture
def admin(desk: Server) -> Iterator[tuple[httpx.Client, str]]:
    """An admin's client (session cookie, no CSRF header) and the session's CSRF token."""
    with httpx.Client(base_url=desk.url) as client:
        answer = client.post("/login", data={"username": "root", "password": PASSWORD},
                             headers={"accept": "application/json"})
        assert answer.status_code == 200, answer.text
        yield client, answer.json()["csrf_token"]


def assert_refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 400, (answer.request.url, answer.text)
    assert answer.json()["error"] == "bad_frame", answer.text
    assert field in answer.json()["message"], answer.text


@pytest.mark.parametrize("bad", CONTROLS)
def test_a_control_character_in_a_login_is_a_wrong_login(desk: Server, bad: str) -> None:
    name = f"user{ord(bad)}"  # one account per case: each takes 4 of its 10 failed logins
    add_user(desk.db, name)
    for form in ({"username": f"{name}{bad}", "password": PASSWORD},
                 {"username": name, "password": f"{PASSWORD}{bad}"},
                 {"username": name, "password": PASSWORD, f"x{bad}": "1"}):
        answer = httpx.post(desk.url + "/login", data=form,
                            headers={"accept": "application/json"})
        assert answer.status_code == 401, (form, answer.text)
        assert answer.json()["error"] == "unauthorized"
        answer = httpx.post(desk.url + "/login", data=form)  # the login page's own form
        assert answer.status_code == 303 and answer.headers["location"] == "/login?failed=1"


def test_a_login_with_a_nul_counts_as_a_failed_attempt(desk: Server) -> None:
    """Ten failures per account in 15 minutes (abuse.failed_logins_per_account), then 429:
    refused input must not be a way to guess without being counted."""
    form = {"username": "nul\x00counted", "password": "x"}
    for _ in range(10):
        answer = httpx.post(desk.url + "/login", data=form,
                            headers={"accept": "application/json"})
        assert answer.status_code == 401, answer.text
    answer = httpx.post(desk.url + "/login", data=form, headers={"accept": "application/json"})
    assert answer.status_code == 429, answer.text


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x9f"])
def test_a_control_character_in_a_query_parameter_is_a_400_naming_it(
        desk: Server, admin: tuple[httpx.Client, str], bad: str) -> None:
    http, csrf = admin
    (entry,) = sql(desk.db, "SELECT min(id) FROM kb_entries")[0]
    for template, names in QUERY_PARAMETERS.items():
        path = template.format(entry=entry)
        method = "POST" if path == "/api/kb/import" else "GET"
        for name in names:
            answer = http.request(method, path, params={name: f"a{bad}b"},
                                  headers={"x-csrf-token": csrf})
            assert_refused(answer, f"'{name}'")
        answer = http.request(method, path, params={f"x{bad}": "1"},
                              headers={"x-csrf-token": csrf})
        assert_refused(answer, "field name")


def test_a_nul_in_a_privacy_search_is_refused_and_a_clean_one_still_searches(
        admin: tuple[httpx.Client, str]) -> None:
    http, _ = admin
    assert_refused(http.get("/api/privacy/visitors", params={"q": "a\x00b"}), "'q'")
    answer = http.get("/api/privacy/visitors", params={"q": "nobody@example.com"})
    assert answer.status_code == 200 and answer.json() == {"visitors": []}, answer.text


def test_a_control_character_in_a_visitor_id_in_the_path_is_a_400(
        admin: tuple[httpx.Client, str]) -> None:
    http, csrf = admin
    for escaped in ("%00", "%1B", "%C2%85"):
        assert_refused(http.get(f"/api/privacy/visitors/a{escaped}b/export"), "'visitor_id'")
        assert_refused(http.post(f"/api/privacy/visitors/a{escaped}b/erase",
                                 headers={"x-csrf-token": csrf}), "'visitor_id'")
    assert http.get("/api/privacy/visitors/nobody/export").status_code == 404


@pytest.mark.parametrize("bad", ["\x00", "\x1b"])
def test_a_control_character_in_a_form_posted_with_a_session_is_a_400(
        admin: tuple[httpx.Client, str], bad: str) -> None:
    """A browser form carries its CSRF token as a field: every field keeps the rule."""
    http, csrf = admin
    for form, field in (({"csrf_token": csrf, "note": f"a{bad}b"}, "'note'"),
                        ({"csrf_token": f"{csrf}{bad}"}, "'csrf_token'"),
                        ({"csrf_token": csrf, f"x{bad}": "1"}, "field name")):
        assert_refused(http.post("/api/privacy/visitors/nobody/erase", data=form), field)
    answer = http.post("/api/privacy/visitors/nobody/erase", data={"csrf_token": csrf})
    assert answer.status_code == 404, answer.text  # the same form, clean, reaches the handler


def test_a_csrf_token_beyond_ascii_is_a_wrong_token(admin: tuple[httpx.Client, str]) -> None:
    """secrets.compare_digest raises TypeError on a str beyond ASCII: that was a 500."""
    http, csrf = admin
    answer = http.post("/api/privacy/visitors/nobody/erase",
                       data={"csrf_token": csrf[:-1] + "é"})
    assert answer.status_code == 403, answer.text
    answer = http.post("/api/privacy/visitors/nobody/erase",
                       headers={"x-csrf-token": (csrf[:-1] + "é").encode()})
    assert answer.status_code == 403, answer.text


def test_every_query_parameter_and_form_is_read_through_the_rule() -> None:
    """Handlers read them through chatserver/web/http_fields.py, so a new one cannot skip it; the
    login alone reads its raw form, to count a refused field as a failed login for that name."""
    found = [(path.name, line.strip())
             for path in sorted((HERE.parent / "chatserver" / "web").glob("*.py"))
             if path.name != "http_fields.py"
             for line in path.read_text().splitlines()
             if re.search(r"\.query_params\b|\.form\(\)", line)]
    assert found == [("auth.py", "form = await request.form()")], found


HUGE = "99999999999999999999"  # past 64 bits: SQLite cannot bind it (OverflowError)
ROW_ID_ROUTES = [
    ("GET", f"/api/kb/{HUGE}"), ("PUT", f"/api/kb/{HUGE}"), ("DELETE", f"/api/kb/{HUGE}"),
    ("POST", f"/api/kb/{HUGE}/publish"), ("GET", f"/api/kb/{HUGE}/history"),
    ("POST", f"/api/kb/{HUGE}/restore"), ("GET", f"/api/kb/{HUGE}/diff?from=1&to=2"),
    ("PATCH", f"/api/users/{HUGE}"), ("POST", f"/api/users/{HUGE}/password"),
    ("POST", f"/api/offline-messages/{HUGE}/answered"),
    ("POST", f"/api/kb/proposals/{HUGE}/approve"), ("POST", f"/api/kb/proposals/{HUGE}/reject"),
    ("PATCH", f"/api/labels/{HUGE}"), ("DELETE", f"/api/labels/{HUGE}"),
    ("PATCH", f"/api/labels/{2**53 + 1}"), ("PATCH", "/api/labels/0"),
    ("GET", f"/api/canned/{HUGE}"), ("PUT", f"/api/canned/{HUGE}"),
    ("DELETE", f"/api/canned/{2**53 + 1}"), ("GET", f"/api/canned/{HUGE}/history"),
    ("POST", "/api/canned/0/restore"),
]


@pytest.mark.parametrize(("method", "path"), ROW_ID_ROUTES)
def test_an_id_past_what_a_row_can_have_is_a_404(admin: tuple[httpx.Client, str], method: str,
                                                 path: str) -> None:
    """`{x:int}` takes any run of digits: outside 1..2**53 it names no row (http_fields.row_id),
    a 404 before the store sees it."""
    http, csrf = admin
    answer = http.request(method, path, json={"version": 1}, headers={"x-csrf-token": csrf})
    assert answer.status_code == 404, answer.text


def test_every_path_parameter_is_read_through_the_rule() -> None:
    """Path ids go through http_fields (path, path_id, row_id), so a new route cannot hand the
    store a NUL or a number past 64 bits; the widget's module name is matched by its own list."""
    found = [(path.name, line.strip())
             for path in sorted((HERE.parent / "chatserver" / "web").glob("*.py"))
             if path.name != "http_fields.py"
             for line in path.read_text().splitlines() if "path_params[" in line]
    assert found == [("widget_routes.py", 'name = request.path_params["name"]')], found


def test_the_server_log_holds_no_traceback(desk: Server) -> None:
    """Last: everything above was hostile, and none of it may leave a traceback or an ERROR."""
    log = desk.log.read_text()
    assert "Traceback" not in log, log[-4000:]
    assert not [line for line in log.splitlines() if "ERROR" in line], log[-4000:]
