"""Pages and their JSON APIs over real HTTP: roles, login redirects, CSRF, escaping, the team
API, the supervisor overview and the knowledge-base diff. Fast: no browser."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from .harness import PASSWORD, Server, add_user

PACKAGE = Path(__file__).resolve().parents[1] / "chatserver" / "web"
PAGES = {"/console": ("agent", "supervisor", "admin"),
         "/console/supervisor": ("supervisor", "admin"),
         "/admin": ("admin",), "/admin/users": ("admin",),
         "/account": ("agent", "supervisor", "admin")}
# (method, path, roles allowed); bodies are irrelevant for the role checks.
APIS = [("GET", "/api/supervisor/overview", ("supervisor", "admin")),
        ("GET", "/api/agents", ("agent", "supervisor", "admin")),
        ("GET", "/api/users", ("admin",)),
        ("POST", "/api/users", ("admin",)),
        ("PUT", "/api/users/1", ("admin",)),
        ("POST", "/api/users/1/password", ("admin",)),
        ("POST", "/api/account/password", ("agent", "supervisor", "admin")),
        ("GET", "/api/kb/1/diff?from=1&to=1", ("admin",))]
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


OPENED: list[httpx.Client] = []


@pytest.fixture(scope="module", autouse=True)
def _close_clients():
    yield
    for client in OPENED:
        client.close()


def client_for(server: Server) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    OPENED.append(client)
    return client


class Session:
    """A logged-in client holding its CSRF token, like the pages' JavaScript."""

    def __init__(self, server: Server, username: str, password: str = PASSWORD) -> None:
        self.client = client_for(server)
        response = self.client.post("/login", data={"username": username, "password": password},
                                    headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]

    def get(self, url: str, **kw) -> httpx.Response:
        return self.client.get(url, **kw)

    def send(self, method: str, url: str, *, csrf: bool = True, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if csrf:
            headers["x-csrf-token"] = self.csrf
        return self.client.request(method, url, headers=headers, **kw)


@pytest.fixture(scope="module")
def people(shared_server: Server) -> dict[str, Session]:
    add_user(shared_server.db, "pa_agent", role="agent", skills={"lang:en": 5, "billing": 3},
             display_name=EVIL)
    add_user(shared_server.db, "pa_super", role="supervisor")
    add_user(shared_server.db, "pa_admin", role="admin")
    return {role: Session(shared_server, f"pa_{role}") for role in ("agent", "super", "admin")}


def as_role(people: dict[str, Session], role: str) -> Session:
    return people["super" if role == "supervisor" else role]


# --- who may see what ----------------------------------------------------------------------


@pytest.mark.parametrize("path", list(PAGES))
def test_pages_redirect_to_login_without_a_session(shared_server: Server, path: str) -> None:
    response = httpx.get(shared_server.url + path)
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize(("path", "allowed"), list(PAGES.items()))
@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_every_page_refuses_the_wrong_role(people, path: str, allowed, role: str) -> None:
    response = as_role(people, role).get(path)
    assert response.status_code == (200 if role in allowed else 403), (path, role)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("method", "path", "allowed"), APIS)
def test_every_api_refuses_no_session_and_the_wrong_role(shared_server: Server, people, method,
                                                          path, allowed) -> None:
    anonymous = httpx.request(method, shared_server.url + path, json={})
    assert anonymous.status_code == 401
    for role in ("agent", "supervisor", "admin"):
        response = as_role(people, role).send(method, path, json={})
        if role in allowed:
            assert response.status_code not in (401, 403), (path, role, response.text)
        else:
            assert response.status_code == 403, (path, role)


@pytest.mark.parametrize(("method", "path", "allowed"),
                         [api for api in APIS if api[0] != "GET"])
def test_changing_apis_refuse_a_missing_wrong_or_cross_site_token(people, method, path,
                                                                 allowed) -> None:
    session = as_role(people, allowed[-1])
    assert session.send(method, path, csrf=False, json={}).status_code == 403
    assert session.send(method, path, csrf=False, json={},
                        headers={"x-csrf-token": "forged"}).status_code == 403
    cross = session.send(method, path, json={}, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403


# --- login page ------------------------------------------------------------------------------


def test_login_page_form_and_wrong_password(shared_server: Server, people) -> None:
    page = httpx.get(shared_server.url + "/login")
    assert page.status_code == 200
    assert 'action="/login"' in page.text and 'name="password"' in page.text
    assert "Wrong username or password" not in page.text
    client = client_for(shared_server)
    wrong = client.post("/login", data={"username": "pa_agent", "password": "nope"})
    assert wrong.status_code == 303 and wrong.headers["location"] == "/login?failed=1"
    assert "Wrong username or password" in client.get("/login?failed=1").text


def test_login_form_lands_on_the_role_home_and_logout_ends_the_session(
        shared_server: Server, people) -> None:
    client = client_for(shared_server)
    landed = client.post("/login", data={"username": "pa_super", "password": PASSWORD})
    assert landed.headers["location"] == "/console/supervisor"
    assert client.get("/login").headers["location"] == "/console/supervisor"
    assert client.get("/").headers["location"] == "/console/supervisor"
    page = client.get("/console/supervisor").text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token and len(token.group(1)) >= 24
    assert client.post("/logout").status_code == 303
    assert client.get("/console").headers["location"] == "/login"


def test_page_carries_its_sessions_csrf_token(people) -> None:
    page = people["agent"].get("/console").text
    assert f'<meta name="csrf-token" content="{people["agent"].csrf}">' in page


# --- escaping and resources -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/console", "/account"])
def test_names_with_html_are_shown_as_text(people, path: str) -> None:
    page = people["agent"].get(path).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert EVIL not in page and "<img src=x" not in page


def test_pages_load_nothing_from_other_sites() -> None:
    for path in [*PACKAGE.joinpath("templates").iterdir(), *PACKAGE.joinpath("static").iterdir()]:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path
        assert "|safe" not in text.replace(" ", ""), path


def test_static_files_are_served(shared_server: Server) -> None:
    for name in ("app.css", "common.js", "console.js", "admin.js", "canned.css"):
        assert httpx.get(f"{shared_server.url}/static/{name}").status_code == 200, name
    # The canned responses are the database's now (/api/canned): the old file is gone.
    assert httpx.get(f"{shared_server.url}/static/canned.json").status_code == 404


# --- the team API -----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "x", "role": "agent", "password": "long enough"}, "username"),
    ({"username": "newbie", "role": "boss", "password": "long enough"}, "role"),
    ({"username": "newbie", "role": "agent", "password": "short"}, "password"),
    ({"username": "newbie", "role": "agent", "password": "long enough", "capacity": 0},
     "capacity"),
    ({"username": "newbie", "role": "agent", "password": "long enough",
      "skills": {"Bad Skill": 3}}, "skills"),
    ({"username": "pa_agent", "role": "agent", "password": "long enough"}, "username"),
])
def test_adding_a_user_names_the_bad_field(people, body, field) -> None:
    response = people["admin"].send("POST", "/api/users", json=body)
    assert response.status_code == 422 and response.json()["field"] == field


def test_admin_adds_edits_resets_and_disables_a_user(shared_server: Server, people) -> None:
    admin = people["admin"]
    created = admin.send("POST", "/api/users", json={
        "username": "nadia", "display_name": "Nadia", "role": "agent", "password": "first pass",
        "skills": {"lang:fa": 5}, "capacity": 4})
    assert created.status_code == 201
    user = created.json()
    assert user["skills"] == {"lang:fa": 5} and "password_hash" not in user
    nadia = Session(shared_server, "nadia", "first pass")
    assert nadia.get("/console").status_code == 200

    edited = admin.send("PUT", f"/api/users/{user['id']}",
                        json={"role": "supervisor", "capacity": 6, "skills": {"lang:en": 2}})
    assert edited.json()["role"] == "supervisor" and edited.json()["capacity"] == 6

    assert admin.send("POST", f"/api/users/{user['id']}/password",
                      json={"password": "second pass"}).status_code == 204
    assert nadia.get("/console").status_code == 303  # her session ended
    Session(shared_server, "nadia", "second pass")

    assert admin.send("PUT", f"/api/users/{user['id']}",
                      json={"disabled": True}).json()["disabled"] is True
    refused = httpx.post(shared_server.url + "/login", data={"username": "nadia",
                         "password": "second pass"}, headers={"accept": "application/json"})
    assert refused.status_code == 401


def test_an_admin_cannot_demote_themselves(people) -> None:
    admin = people["admin"]
    me = next(u for u in admin.get("/api/users").json()["users"] if u["username"] == "pa_admin")
    response = admin.send("PUT", f"/api/users/{me['id']}", json={"role": "agent"})
    assert response.status_code == 422


def test_owner_changes_their_password(shared_server: Server) -> None:
    add_user(shared_server.db, "pa_owner", role="agent")
    owner = Session(shared_server, "pa_owner")
    other = Session(shared_server, "pa_owner")
    wrong = owner.send("POST", "/api/account/password",
                       json={"current_password": "guess", "new_password": "brand new pw"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    short = owner.send("POST", "/api/account/password",
                       json={"current_password": PASSWORD, "new_password": "tiny"})
    assert short.json()["field"] == "new_password"
    done = owner.send("POST", "/api/account/password",
                      json={"current_password": PASSWORD, "new_password": "brand new pw"})
    assert done.status_code == 204
    assert owner.get("/console").status_code == 200  # this session stays
    assert other.get("/console").status_code == 303  # the others end
    Session(shared_server, "pa_owner", "brand new pw")


# --- supervisor overview and knowledge-base diff ------------------------------------------------


def visitor_asks_for_a_person(ws, name: str, language: str) -> None:
    ws.send(json.dumps({"type": "hello", "name": name, "language": language}))
    json.loads(ws.recv(timeout=5))
    frame_id = str(uuid.uuid4())
    ws.send(json.dumps({"type": "request_human", "id": frame_id}))
    while json.loads(ws.recv(timeout=5)).get("id") != frame_id:
        pass


def test_overview_shows_queue_by_skill_agents_and_chats(shared_server: Server, people) -> None:
    add_user(shared_server.db, "pa_german", role="agent", skills={"lang:de": 5}, capacity=1,
             display_name="Greta")
    cookies = Session(shared_server, "pa_german").client.cookies
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    with connect(shared_server.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as agent:
        agent.send(json.dumps({"type": "hello"}))
        agent.send(json.dumps({"type": "status", "status": "online"}))
        while json.loads(agent.recv(timeout=5))["type"] != "status":
            pass
        with connect(shared_server.ws + "/ws/visitor") as first, \
                connect(shared_server.ws + "/ws/visitor") as second:
            visitor_asks_for_a_person(first, "Hans", "de")
            visitor_asks_for_a_person(second, EVIL, "de")
            while json.loads(agent.recv(timeout=5))["type"] != "offer":
                pass
            overview = people["super"].get("/api/supervisor/overview").json()
    assert overview["queue"]["waiting"] == 1
    assert overview["queue"]["by_skill"] == [
        {"skill": "lang:de", "waiting": 1, "oldest_wait_seconds": 0}]
    greta = next(a for a in overview["agents"] if a["username"] == "pa_german")
    assert greta["status"] == "online" and greta["load"] == 1 and greta["capacity"] == 1
    states = {c["visitor_name"]: c["state"] for c in overview["conversations"]}
    assert states["Hans"] == "offered" and states[EVIL] == "queued"


def test_kb_diff_between_versions(people) -> None:
    admin = people["admin"]
    entry = admin.send("POST", "/api/kb", json={
        "title": "Gift wrapping", "language": "en", "questions": ["do you gift wrap"],
        "answer": "Yes, for 2 EUR.", "tags": ["gifts"]}).json()
    admin.send("PUT", f"/api/kb/{entry['id']}", json={"answer": "Yes, for free.",
                                                     "tags": ["gifts", "free"], "version": 1})
    changes = admin.get(f"/api/kb/{entry['id']}/diff?from=1&to=2").json()["changes"]
    by_field = {c["field"]: c for c in changes}
    assert set(by_field) == {"answer", "tags"}
    assert "-Yes, for 2 EUR." in by_field["answer"]["lines"]
    assert by_field["tags"]["lines"] == ["+ free"]
    assert admin.get(f"/api/kb/{entry['id']}/diff?from=1&to=9").status_code == 404
    assert admin.get(f"/api/kb/{entry['id']}/diff").status_code == 422


def test_agents_directory_lists_team_skills(people) -> None:
    data = people["agent"].get("/api/agents").json()
    assert "billing" in data["skills"] and "lang:en" in data["skills"]


def test_disabled_users_have_no_sessions_left(shared_server: Server, people) -> None:
    with sqlite3.connect(shared_server.db) as db:
        rows = db.execute("SELECT COUNT(*) FROM sessions JOIN users ON users.id = user_id "
                          "WHERE users.disabled = 1").fetchone()
    assert rows[0] == 0
