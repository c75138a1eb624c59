"""The alert switches over HTTP (issue 20 item 4): the console reads with GET what /account saved
with POST, each user only their own; nothing but a boolean for a known switch is taken."""

from __future__ import annotations

from .harness import Server, add_user
from .test_pages import Session, client_for

ALL_ON = {"sound": True, "desktop": True, "title": True}


def test_the_console_reads_what_account_saved(shared_server: Server) -> None:
    add_user(shared_server.db, "as_nadia", display_name="Nadia")
    add_user(shared_server.db, "as_omid", display_name="Omid")
    nadia, omid = Session(shared_server, "as_nadia"), Session(shared_server, "as_omid")
    assert nadia.get("/api/account/preferences").json() == {"language": "", "alerts": ALL_ON}

    saved = nadia.send("POST", "/api/account/preferences", json={"alerts": {"desktop": False}})
    assert saved.status_code == 200, saved.text
    off = {**ALL_ON, "desktop": False}
    assert saved.json()["alerts"] == off
    assert nadia.get("/api/account/preferences").json() == {"language": "", "alerts": off}
    # The language is saved beside them and leaves them as they were.
    nadia.send("POST", "/api/account/preferences", json={"language": "fa"})
    assert nadia.get("/api/account/preferences").json() == {"language": "fa", "alerts": off}
    assert omid.get("/api/account/preferences").json()["alerts"] == ALL_ON


def test_only_booleans_for_known_switches_and_only_signed_in(shared_server: Server) -> None:
    add_user(shared_server.db, "as_sara", display_name="Sara")
    sara = Session(shared_server, "as_sara")
    for body, field in [({"alerts": {"desktop": "off"}}, "alerts.desktop"),
                        ({"alerts": {"siren": True}}, "alerts.siren")]:
        refused = sara.send("POST", "/api/account/preferences", json=body)
        assert refused.status_code == 422 and refused.json()["field"] == field
    assert sara.get("/api/account/preferences").json()["alerts"] == ALL_ON
    assert sara.send("POST", "/api/account/preferences", json={"alerts": {"sound": False}},
                     csrf=False).status_code == 403
    anonymous = client_for(shared_server).get("/api/account/preferences",
                                              headers={"accept": "application/json"})
    assert anonymous.status_code == 401
