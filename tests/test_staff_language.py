"""The staff pages' language: the user's choice on /account, else the browser's Accept-Language;
fa and ar right to left; the page script gets its words. Over real HTTP."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from chatserver.core import staff_preferences
from chatserver.web import catalogue

from .harness import Server, add_user
from .test_pages import Session, client_for


@pytest.mark.parametrize(("header", "language"), [
    ("fa-IR,fa;q=0.9,en;q=0.5", "fa"), ("en-US,en;q=0.9,ar;q=0.8", "en"),
    ("de-DE,ar;q=0.7,zh;q=0.9", "zh"), ("zh-TW", "zh"), ("ar-EG", "ar"),
    ("de,fr;q=0.5", "en"), ("", "en"), ("fa;q=0", "en"), ("fa;q=abc,zh", "zh"),
    (";;;,,,=", "en"), ("*", "en")])
def test_the_browser_language_is_negotiated(header: str, language: str) -> None:
    assert catalogue.negotiate(header) == language


def test_a_choice_beats_the_browser_and_an_unknown_choice_does_not() -> None:
    assert catalogue.choose("zh", "fa") == "zh"
    assert catalogue.choose("", "fa") == "fa"
    assert catalogue.choose("xx", "ar") == "ar"


def test_translation_fills_placeholders_and_falls_back_to_english() -> None:
    assert catalogue.translate("fa", "Log out") == "خروج"
    assert catalogue.translate("fa", "no such msgid {n}", {"n": 3}) == "no such msgid 3"
    assert catalogue.translate("zh", "{m}m {s}s", {"m": 2, "s": "05"}) == "2分05秒"
    assert catalogue.translate("ar", "{m}m {s}s", {"m": 2}) == "2 د {s} ث"


def test_alert_preferences_default_on_and_refuse_nonsense() -> None:
    assert staff_preferences.alerts("") == {"sound": True, "desktop": True, "title": True}
    assert staff_preferences.alerts("[1]") == {"sound": True, "desktop": True, "title": True}
    language, stored = staff_preferences.changes({"alerts": {"sound": False}}, "{}")
    assert language is None and staff_preferences.alerts(stored)["sound"] is False
    for body, field in [({"language": "de"}, "language"), ({"colour": 1}, "colour"),
                        ({"alerts": {"sound": "no"}}, "alerts.sound"),
                        ({"alerts": {"siren": True}}, "alerts.siren"),
                        ({"alerts": []}, "alerts")]:
        with pytest.raises(staff_preferences.PreferenceError) as caught:
            staff_preferences.changes(body, "{}")
        assert caught.value.field == field


def html_tag(page: httpx.Response) -> tuple[str, str]:
    match = re.search(r'<html lang="(\w+)" dir="(\w+)">', page.text)
    assert match, page.text[:200]
    return match[1], match[2]


def page_messages(page: httpx.Response) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="i18n-messages">(.*?)</script>',
                      page.text, re.S)
    return json.loads(match[1]) if match else {}


def test_login_follows_the_browser(shared_server: Server) -> None:
    client = client_for(shared_server)
    persian = client.get("/login", headers={"accept-language": "fa-IR,fa;q=0.9"})
    assert html_tag(persian) == ("fa", "rtl")
    assert page_messages(persian)["Sign in"] == "ورود"
    assert "<title>ورود · میز پشتیبانی</title>" in persian.text
    assert html_tag(client.get("/login", headers={"accept-language": "ar"})) == ("ar", "rtl")
    assert html_tag(client.get("/login", headers={"accept-language": "zh-CN"})) == ("zh", "ltr")
    english = client.get("/login", headers={"accept-language": "en"})
    assert html_tag(english) == ("en", "ltr") and not page_messages(english)


def test_the_choice_on_account_wins_and_can_be_given_back(shared_server: Server) -> None:
    add_user(shared_server.db, "lang_agent", role="agent", display_name="Sara")
    me = Session(shared_server, "lang_agent")
    farsi = {"accept-language": "fa"}
    page = me.get("/console", headers=farsi)
    assert html_tag(page) == ("fa", "rtl")
    assert ">کنسول</a>" in page.text and ">خروج</button>" in page.text
    chosen = me.send("POST", "/api/account/preferences", json={"language": "zh"})
    assert chosen.status_code == 200
    assert chosen.json() == {"language": "zh", "alerts": {"sound": True, "desktop": True,
                                                          "title": True}}
    page = me.get("/account", headers=farsi)
    assert html_tag(page) == ("zh", "ltr") and "<h1>我的账户</h1>" in page.text
    assert '<option value="zh" lang="zh" selected>中文</option>' in page.text
    quiet = me.send("POST", "/api/account/preferences", json={"alerts": {"sound": False}})
    assert quiet.json()["language"] == "zh" and quiet.json()["alerts"]["sound"] is False
    back = me.send("POST", "/api/account/preferences", json={"language": ""})
    assert back.json() == {"language": "", "alerts": {"sound": False, "desktop": True,
                                                      "title": True}}
    assert html_tag(me.get("/account", headers=farsi)) == ("fa", "rtl")


@pytest.mark.parametrize(("body", "field"), [
    ({"language": "klingon"}, "language"), ({"language": 7}, "language"),
    ({"theme": "dark"}, "theme"), ({"alerts": {"sound": 1}}, "alerts.sound"),
    ({"alerts": "off"}, "alerts")])
def test_bad_preferences_are_refused_naming_the_field(shared_server: Server, body,
                                                       field: str) -> None:
    name = f"pref_{len(json.dumps(body))}_{field}"
    add_user(shared_server.db, name, role="agent")
    me = Session(shared_server, name)
    response = me.send("POST", "/api/account/preferences", json=body)
    assert response.status_code == 422 and response.json()["field"] == field
    assert me.send("POST", "/api/account/preferences", json={}).status_code == 200
    assert me.send("POST", "/api/account/preferences", json={"language": "ar"},
                   csrf=False).status_code == 403
