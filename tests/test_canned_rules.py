"""Canned responses' rules a user meets: the search finds words as typed (any script's capitals,
quotes) and not the storage's encoding, shortcuts that read the same are one shortcut, a text
never longer than the desk lets a chat line be, and a title that shows something."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Client, Server, add_user, agent
from .test_kb_api import Session
from .test_labels import _chat as handed_to

NEW = {"shortcut": "late", "title": "Late parcel",
       "variants": {"en": "Sorry for the wait, {visitor.name}."}}


@pytest.fixture(scope="module")
def people(shared_server: Server) -> Iterator[dict[str, Session]]:
    for name, role in (("cannedroot", "admin"), ("cannedagent", "agent")):
        add_user(shared_server.db, name, role=role)
    sessions = {name: Session(shared_server, name) for name in ("cannedroot", "cannedagent")}
    yield sessions
    for session in sessions.values():
        session.close()


def shortcuts(me: Session, query: str) -> list[str]:
    found = me.get("/api/canned", params={"q": query})
    assert found.status_code == 200, found.text
    return [r["shortcut"] for r in found.json()["responses"]]


def test_canned_search_finds_a_title_as_typed(people: dict[str, Session]) -> None:
    """'Über' (the title's word) and 'über' both find 'Über uns': on SQLite lower() folds ASCII
    only, so a non-ASCII capital never matched there (it did on PostgreSQL)."""
    me = people["cannedagent"]
    made = me.send("POST", "/api/canned", json={
        "shortcut": "ueber", "title": "Über uns", "variants": {"de": "Wir sind ein Laden."}})
    assert made.status_code == 201, made.text
    for query in ("Über", "über", "ÜBER"):
        assert shortcuts(me, query) == ["ueber"], query


def test_canned_search_matches_words_not_the_storage_encoding(
        people: dict[str, Session]) -> None:
    """A search for the quoted words a text holds ("Return order") finds it (the stored JSON
    holds \\"Return order\\"), and 'zh' does not list every response with a Chinese text (the
    JSON key "zh")."""
    me = people["cannedagent"]
    made = me.send("POST", "/api/canned", json={
        "shortcut": "ret", "title": "Returns",
        "variants": {"en": 'Press "Return order" in your account.', "zh": "请在账户中退货。"}})
    assert made.status_code == 201, made.text
    assert "ret" in shortcuts(me, '"Return order"')
    assert "ret" in shortcuts(me, "退货")
    assert "ret" not in shortcuts(me, "zh")
    assert "ret" not in shortcuts(me, '"en"')


@pytest.mark.parametrize("twin", ["\uff48\uff49", "\u1d34\u1d35", "HI"])
def test_a_shortcut_that_reads_the_same_as_a_taken_one_is_refused(
        people: dict[str, Session], twin: str) -> None:
    """The team has /hi (seeded). /ｈｉ typed with a full-width IME, or /ᴴᴵ pasted (NFKC: HI), is
    the same shortcut: refused as taken (422 naming the shortcut), not kept as a second row
    that reads '/hi' and that typing /hi never reaches."""
    root = people["cannedroot"]
    assert "hi" in shortcuts(root, "hi")
    made = root.send("POST", "/api/canned", json={**NEW, "shortcut": twin, "scope": "team"})
    assert made.status_code == 422 and made.json()["field"] == "shortcut", made.text


def test_a_shortcut_is_kept_in_its_compatibility_form(people: dict[str, Session]) -> None:
    """A new full-width shortcut is stored as the agent will type it: /ｓｏｒｒｙ2 is /sorry2."""
    me = people["cannedagent"]
    wide = "\uff53\uff4f\uff52\uff52\uff59\uff12"
    made = me.send("POST", "/api/canned", json={**NEW, "shortcut": wide})
    assert made.status_code == 201 and made.json()["shortcut"] == "sorry2", made.text


@pytest.mark.parametrize(("field", "value"), [
    ("title", "\u200b"), ("title", "\u200c\u200d\u2060"), ("shortcut", "\u200c")])
def test_a_title_or_shortcut_that_shows_nothing_is_refused(
        people: dict[str, Session], field: str, value: str) -> None:
    """A title of only a zero-width space (or a shortcut of only a ZWNJ) is an empty row in the
    picker: refused, naming the field."""
    made = people["cannedagent"].send("POST", "/api/canned", json={**NEW, "shortcut": "blank",
                                                                   field: value})
    assert made.status_code == 422 and made.json()["field"] == field, made.text


@pytest.mark.anyio
async def test_a_canned_response_longer_than_a_chat_line_is_refused_on_save(
        tmp_path, clients: list[Client]) -> None:
    """The desk set limits.max_text_chars = 1000. A canned text of 1,500 characters could be
    saved, offered by the picker and never sent (too large): the save is a 422 naming
    variants.en and the desk's limit; one of exactly 1,000 characters is kept."""
    server = Server(tmp_path, CHATSERVER_LIMITS_MAX_TEXT_CHARS="1000")
    add_user(server.db, "ana", display_name="Ana")
    server.start()
    try:
        long_text = "Our return policy, in full: " + "x" * 1472
        ana = await agent(server, "ana")
        clients.append(ana)
        _sara, cid = await handed_to(server, clients, ana, "Sara")
        sent = await ana.request("message", conversation_id=cid, text=long_text)
        assert sent["type"] == "error", sent  # the desk's limit holds for a typed line
        me = Session(server, "ana")
        try:
            saved = me.send("POST", "/api/canned", json={
                "shortcut": "policy", "title": "Return policy",
                "variants": {"en": "ok", "fa": long_text}})
            fits = me.send("POST", "/api/canned", json={
                "shortcut": "policy", "title": "Return policy",
                "variants": {"en": long_text[:1000]}})
        finally:
            me.close()
        assert saved.status_code == 422 and saved.json()["field"] == "variants.fa", (
            saved.status_code, saved.text[:160])
        assert "1000" in saved.json()["message"], saved.json()
        assert fits.status_code == 201, fits.text[:160]
    finally:
        server.stop()
