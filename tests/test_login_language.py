"""The login page's language: the browser's, or the one its own links pick (?lang=), which
lasts on /login only; after signing in the user's choice on /account decides. Over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from .harness import PASSWORD, Server, add_user, sql
from .test_pages import client_for
from .test_staff_language import html_tag


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("login_language"))
    add_user(server.db, "sara", role="supervisor", display_name="سارا")
    server.start()
    yield server
    server.stop()


def test_the_login_page_in_arabic_and_its_language_links(desk: Server) -> None:
    client = client_for(desk)
    arabic = client.get("/login", headers={"accept-language": "ar"})
    assert html_tag(arabic) == ("ar", "rtl")
    assert "<h1>تسجيل الدخول</h1>" in arabic.text and ">كلمة المرور<input" in arabic.text
    links = re.findall(r'<a href="/login\?lang=(\w+)" lang="\w+" hreflang="\w+"'
                       r'( aria-current="true")?>([^<]+)</a>', arabic.text)
    assert links == [("en", "", "English"), ("fa", "", "فارسی"),
                     ("ar", ' aria-current="true"', "العربية"), ("zh", "", "中文")]
    # A link picks the login page's language over the browser's, and it lasts through a
    # wrong password (the redirect to /login?failed=1 carries no parameter).
    chinese = client.get("/login?lang=zh", headers={"accept-language": "ar"})
    assert html_tag(chinese) == ("zh", "ltr") and "<h1>登录</h1>" in chinese.text
    wrong = client.post("/login", data={"username": "sara", "password": "nope"},
                        headers={"accept-language": "ar"})
    assert wrong.headers["location"] == "/login?failed=1"
    failed = client.get("/login?failed=1", headers={"accept-language": "ar"})
    assert html_tag(failed) == ("zh", "ltr") and "用户名或密码错误。" in failed.text
    # Nonsense is ignored; the browser's language applies again.
    odd = client_for(desk).get("/login?lang=xx", headers={"accept-language": "fa"})
    assert html_tag(odd) == ("fa", "rtl")


def test_the_login_pages_language_is_for_the_login_page_only(desk: Server) -> None:
    farid = add_user(desk.db, "farid", role="agent", display_name="فرید")
    sql(desk.db, "UPDATE users SET language = 'fa' WHERE id = ?", (farid,))
    client = client_for(desk)
    assert html_tag(client.get("/login?lang=zh")) == ("zh", "ltr")
    [remembered] = [c for c in client.cookies.jar if c.name == "login_lang"]
    assert remembered.path == "/login" and remembered.value == "zh"
    landed = client.post("/login", data={"username": "farid", "password": PASSWORD})
    assert landed.status_code == 303
    # Signed in, the pages follow farid's choice on /account, not the login page's link.
    assert html_tag(client.get("/console/search")) == ("fa", "rtl")
