"""The knowledge-base API: roles, CSRF, validation naming the field, versions, import, try."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .harness import PASSWORD, Server, add_user


class Session:
    """A logged-in HTTP client that sends its CSRF token the way the admin pages do."""

    def __init__(self, server: Server, username: str) -> None:
        self.client = httpx.Client(base_url=server.url)
        response = self.client.post("/login", data={"username": username, "password": PASSWORD},
                                    headers={"accept": "application/json"})
        assert response.status_code == 200
        self.csrf = response.json()["csrf_token"]

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, **kw) -> httpx.Response:
        return self.client.get(url, **kw)

    def send(self, method: str, url: str, *, csrf: bool = True, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if csrf:
            headers["x-csrf-token"] = self.csrf
        return self.client.request(method, url, headers=headers, **kw)


@pytest.fixture(scope="module")
def admin(shared_server: Server) -> Iterator[Session]:
    add_user(shared_server.db, "root", role="admin")
    session = Session(shared_server, "root")
    yield session
    session.close()


NEW = {"title": "Parking at the warehouse", "language": "en", "status": "published",
       "questions": ["where can I park at the pickup warehouse",
                     "is there parking when I collect my order"],
       "answer": "Free parking behind **Gate 3**.", "tags": ["pickup"], "skill": "orders"}


def test_the_default_knowledge_base_is_loaded_in_four_languages(admin: Session) -> None:
    for language in ("en", "fa", "ar", "zh"):
        entries = admin.get("/api/kb", params={"language": language}).json()["entries"]
        assert len(entries) >= 20, language
        assert all(e["status"] == "published" for e in entries)


def test_create_edit_publish_history_restore(admin: Session) -> None:
    created = admin.send("POST", "/api/kb", json={**NEW, "status": "draft"})
    assert created.status_code == 201
    entry = created.json()
    assert entry["version"] == 1 and entry["id"] > 0

    edited = admin.send("PUT", f"/api/kb/{entry['id']}",
                        json={"answer": "Parking is at Gate 4 now.", "version": 1})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = admin.send("PUT", f"/api/kb/{entry['id']}", json={"answer": "x", "version": 1})
    assert stale.status_code == 409

    published = admin.send("POST", f"/api/kb/{entry['id']}/publish")
    assert published.json()["status"] == "published" and published.json()["version"] == 3

    history = admin.get(f"/api/kb/{entry['id']}/history").json()["versions"]
    assert [v["version"] for v in history] == [3, 2, 1]
    assert [v["action"] for v in history] == ["publish", "update", "create"]
    assert history[2]["entry"]["answer"] == NEW["answer"] and history[0]["changed_by"] == "root"

    restored = admin.send("POST", f"/api/kb/{entry['id']}/restore", json={"version": 1})
    assert restored.status_code == 200
    assert restored.json()["answer"] == NEW["answer"] and restored.json()["version"] == 4

    assert admin.send("DELETE", f"/api/kb/{entry['id']}").status_code == 204
    assert admin.get(f"/api/kb/{entry['id']}").status_code == 404
    assert len(admin.get(f"/api/kb/{entry['id']}/history").json()["versions"]) == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"questions": []}, "questions"),
        ({"questions": ["ok", ""]}, "questions[1]"),
        ({"answer": "x" * 10_001}, "answer"),
        ({"language": "english!"}, "language"),
        ({"status": "live"}, "status"),
        ({"skill": "Bad Skill"}, "skill"),
    ],
)
def test_validation_errors_name_the_field(admin: Session, change: dict, field: str) -> None:
    response = admin.send("POST", "/api/kb", json={**NEW, **change})
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_roles_and_csrf_are_enforced(shared_server: Server, admin: Session) -> None:
    add_user(shared_server.db, "agent7")
    agent = Session(shared_server, "agent7")
    assert agent.get("/api/kb").status_code == 200  # agents read (agent assist)
    assert agent.send("POST", "/api/kb", json=NEW).status_code == 403
    agent.close()
    with httpx.Client(base_url=shared_server.url) as anonymous:
        assert anonymous.get("/api/kb").status_code == 401
    assert admin.send("POST", "/api/kb", json=NEW, csrf=False).status_code == 403
    assert admin.send("POST", "/api/kb", json=NEW,
                      headers={"origin": "https://evil.example"}).status_code == 403


def test_a_malformed_import_names_the_line_and_changes_nothing(admin: Session) -> None:
    before = len(admin.get("/api/kb").json()["entries"])
    csv = ("entry_key,language,title,question,answer,tags,skill,status\n"
           "a,en,Opening hours,when are you open,9 to 5,,general,published\n"
           "b,en,Gift cards,,They never expire,,billing,published\n")
    response = admin.send("POST", "/api/kb/import?format=csv", content=csv.encode())
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert problems and problems[0]["line"] == 3 and problems[0]["field"] == "question"
    assert len(admin.get("/api/kb").json()["entries"]) == before


def test_import_then_export_round_trips(admin: Session) -> None:
    csv = ("entry_key,language,title,question,answer,tags,skill,status\n"
           "k1,en,Loyalty points,how do loyalty points work,1 point per euro,loyalty,billing,"
           "published\n"
           "k1,en,Loyalty points,do I earn points,1 point per euro,loyalty,billing,published\n")
    response = admin.send("POST", "/api/kb/import?format=csv", content=csv.encode())
    assert response.status_code == 201 and response.json()["imported"] == 1
    exported = admin.get("/api/kb/export", params={"format": "csv"})
    assert exported.status_code == 200 and "do I earn points" in exported.text
    as_json = admin.get("/api/kb/export").json()
    titles = [e["title"] for e in as_json["entries"]]
    assert "Loyalty points" in titles


def test_try_the_bot_sees_an_edit_at_once(admin: Session) -> None:
    question = "can my parrot ride in the delivery van"
    before = admin.send("POST", "/api/kb/try", json={"text": question, "language": "en"}).json()
    created = admin.send("POST", "/api/kb", json={
        **NEW, "title": "Pets in delivery vans",
        "questions": ["can my parrot ride in the delivery van",
                      "may animals travel with the courier"],
        "answer": "Sorry, no pets in our vans."}).json()
    after = admin.send("POST", "/api/kb/try", json={"text": question, "language": "en"}).json()
    assert after["matches"][0]["entry_id"] == created["id"]
    assert after["decision"] == "answer" and after["answer"] == "Sorry, no pets in our vans."
    assert before["matches"] == [] or before["matches"][0]["entry_id"] != created["id"]

    admin.send("PUT", f"/api/kb/{created['id']}", json={
        "questions": ["are hamsters allowed on the courier truck"], "version": 1})
    edited = admin.send("POST", "/api/kb/try", json={
        "text": "are hamsters allowed on the courier truck", "language": "en"}).json()
    assert edited["matches"][0]["entry_id"] == created["id"]
    unpublished = admin.send("PUT", f"/api/kb/{created['id']}",
                             json={"status": "draft", "version": 2})
    assert unpublished.status_code == 200
    hidden = admin.send("POST", "/api/kb/try", json={
        "text": "are hamsters allowed on the courier truck", "language": "en"}).json()
    assert all(m["entry_id"] != created["id"] for m in hidden["matches"])


def test_html_in_an_answer_is_kept_as_text(admin: Session) -> None:
    created = admin.send("POST", "/api/kb", json={
        **NEW, "title": "Script test", "questions": ["xss test question"],
        "answer": "<script>alert(1)</script> <img src=x onerror=alert(2)>"}).json()
    fetched = admin.get(f"/api/kb/{created['id']}").json()
    assert fetched["answer"] == "<script>alert(1)</script> <img src=x onerror=alert(2)>"
