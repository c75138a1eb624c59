"""Attachments in the widget (issue 19 item 1), in real Chromium against the real server, with a
real agent on /ws/agent: a PNG attached with the button shows its upload progress, then its
thumbnail (which opens the full image in a new tab); a pasted screenshot and a dropped file
arrive too; the agent receives the line and sends an image and a PDF back, which the visitor
sees; a refused file says why in the visitor's language (Persian, right to left, on a phone);
a file attached offline goes when the connection is back, an upload cut by the network is sent
again with the same X-Client-Id and stored once, and one the page lost on reload fails visibly.

The widget is embedded from another origin (a second local HTTP server), so the upload's CORS
preflight and the cross-origin file links are exercised as on a customer's site."""

from __future__ import annotations

import io
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from .browser import Site, screenshot
from .harness import PASSWORD, Server, sql
from .test_widget_browser import Agent, embed, host_page, part, say, staffed

pytestmark = pytest.mark.browser

expect.set_options(timeout=10000)

MOBILE = '<meta name="viewport" content="width=device-width, initial-scale=1">'
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
# A Windows program: its bytes say so whatever its name (widget/attach.js, unsupported_type).
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(2000)
REFUSED = {"en": "Not sent: files of this type are not accepted.",
           "fa": "ارسال نشد: این نوع فایل پذیرفته نمی‌شود.",
           "ar": "لم يُرسل: هذا النوع من الملفات غير مقبول.",
           "zh": "未发送：不支持此类型的文件。"}
ATTACH = {"en": "Attach a file", "fa": "پیوست فایل", "ar": "إرفاق ملف", "zh": "添加附件"}


def png(width: int = 64, height: int = 48, noise: bool = False) -> bytes:
    """A real PNG; with noise it does not compress, so its upload takes measurable time."""
    if noise:
        image = Image.frombytes("RGB", (width, height),
                                random.Random(7).randbytes(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (30, 120, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def payload(name: str, data: bytes, mime: str) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


def attach_js_drew_a_line(page, **options: Any) -> None:
    """attach.js is loaded and has drawn a file's line: it adds attach.css to the widget then."""
    expect(part(page, "link[href$='attach.css']")).to_be_attached(**options)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Agent]]:
    """A server with Omid online, who speaks English and Persian."""
    with staffed(tmp_path_factory.mktemp("attach"), "omid", {"lang:en": 5, "lang:fa": 5},
                 "Omid", capacity=10) as (server, agent):
        yield server, agent
        assert "Traceback" not in server.log.read_text()


def staff_upload(server: Server, username: str, cid: str, name: str, data: bytes) -> dict:
    """What the console does: the agent's file over HTTP (session cookie and CSRF token)."""
    with httpx.Client(base_url=server.url, timeout=20) as client:
        login = client.post("/login", data={"username": username, "password": PASSWORD},
                            headers={"accept": "application/json"})
        assert login.status_code == 200, login.text
        sent = client.post(f"/api/conversations/{cid}/attachments", content=data, headers={
            "x-csrf-token": login.json()["csrf_token"], "x-client-id": uuid.uuid4().hex,
            "x-file-name": quote(name)})
        assert sent.status_code == 200, sent.text
        return dict(sent.json())


def open_chat(page, site: Site, server: Server, path: str, lang: str = "en",
              head: str = "") -> None:
    host_page(page, site, path, embed(server, lang=lang, head=head))
    part(page, ".launcher").click()
    expect(part(page, ".composer textarea")).to_be_focused()


def join(page, agent: Agent, human: str = "Talk to a person") -> str:
    """The visitor asks for a person and the agent accepts: the conversation's id."""
    part(page, "button", has_text=human).first.click()
    cid = str(agent.expect("offer")["conversation"]["id"])
    agent.request("accept", conversation_id=cid)
    expect(part(page, ".status")).to_have_text("Omid")
    return cid


def visitor_file(agent: Agent, cid: str) -> dict[str, Any]:
    line = agent.expect("message", where=lambda f: f["conversation_id"] == cid
                        and f["from"] == "visitor" and f.get("attachment"))
    return dict(line)


def test_attach_with_the_button_progress_thumbnail_and_an_image_back(desk, site, page):
    server, agent = desk
    open_chat(page, site, server, "/attach")
    cid = join(page, agent)

    # Slow the upload down (about 100 kB/s) so that its progress can be seen.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": 100_000})
    big = png(300, 300, noise=True)
    assert len(big) > 200_000
    with page.expect_file_chooser() as chooser:
        part(page, ".composer button[aria-label='Attach a file']").click()
    chooser.value.set_files(payload("screenshot.png", big, "image/png"))

    line = part(page, ".msg.mine").last
    bar = line.locator("progress")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("aria-label", "Sending the file")
    page.wait_for_function(
        """() => { const p = document.querySelector('chat-widget').shadowRoot
                .querySelector('.msg.mine:last-of-type progress');
            return p && p.value > 0.1 && p.value < 0.9; }""", timeout=10000)
    expect(line.locator(".tick")).to_have_text("◷")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    thumb = line.locator("a img")
    expect(thumb).to_be_visible()
    expect(bar).to_have_count(0)
    expect(line.locator(".tick")).to_have_text("✓")
    assert thumb.get_attribute("alt") == "screenshot.png"
    # nothing else in the bubble: no stray text
    assert line.inner_text().split() == [*line.locator("time").inner_text().split(), "✓"]
    page.wait_for_function("""() => { const i = document.querySelector('chat-widget')
        .shadowRoot.querySelector('.msg.mine a img'); return i && i.naturalWidth > 0; }""")

    # The agent gets the line with the file; the visitor's link opens the full image.
    got = visitor_file(agent, cid)
    assert got["text"] == "" and got["attachment"]["name"] == "screenshot.png"
    assert got["attachment"]["media_type"] == "image/png"
    with page.context.expect_page() as opened:
        thumb.click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url.startswith(f"{server.url}/api/attachments/{got['attachment']['id']}?sig=")
    assert full.evaluate("document.contentType") == "image/png"
    full.close()

    # The agent answers with an image and a PDF: a thumbnail, and name + size as a link.
    staff_upload(server, "omid", cid, "parcel.png", png(800, 600))
    staff_upload(server, "omid", cid, "label.pdf", PDF)
    from_agent = part(page, ".msg.agent")
    expect(from_agent.locator("a img")).to_have_count(1)
    image = from_agent.locator("a img")
    assert image.get_attribute("alt") == "parcel.png"
    box = image.bounding_box()
    assert box is not None and box["width"] <= 220 and box["height"] <= 200
    doc = from_agent.locator("a.doc")
    expect(doc).to_contain_text("label.pdf")
    expect(doc.locator(".size")).to_have_text(f"{len(PDF)} byte")
    href = doc.get_attribute("href")
    assert href is not None and href.startswith(server.url + "/api/attachments/")
    assert httpx.get(href).headers["content-disposition"].startswith("attachment")
    # Lines filled once attach.js has them keep the list at its newest line.
    log = part(page, ".log")
    page.wait_for_timeout(100)
    assert log.evaluate("(l) => l.scrollHeight - l.scrollTop - l.clientHeight") < 2
    screenshot(page, "widget-attachments")

    # A reload shows every file again, read from the stored state and the server.
    page.reload()
    expect(part(page, ".msg a img")).to_have_count(2)
    expect(part(page, ".msg a.doc")).to_have_count(1)


def test_a_pasted_screenshot_and_a_dropped_file_are_sent(desk, site, page):
    server, agent = desk
    open_chat(page, site, server, "/paste")
    cid = join(page, agent)
    box = part(page, ".composer textarea")
    box.evaluate("""(el, bytes) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
        el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true,
                                                       cancelable: true }));
    }""", list(png(40, 30)))
    expect(part(page, ".msg.mine a img")).to_have_count(1)
    assert visitor_file(agent, cid)["attachment"]["name"] == "image.png"

    # Text on the clipboard is pasted as text, even with an image beside it (Office does that).
    box.evaluate("""(el, bytes) => {
        const data = new DataTransfer();
        data.setData('text/plain', 'order 4711');
        data.items.add(new File([new Uint8Array(bytes)], 'cells.png', { type: 'image/png' }));
        el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true,
                                                       cancelable: true }));
    }""", list(png(40, 30)))

    drop = """(el, file) => {
        const data = new DataTransfer();
        if (file) data.items.add(new File([file], 'notes.txt', { type: 'text/plain' }));
        else data.setData('text/plain', 'dragged words');
        let prevented;
        for (const type of ['dragenter', 'dragover', 'drop']) {
            const event = new DragEvent(type, { dataTransfer: data, bubbles: true,
                                                cancelable: true, composed: true });
            el.dispatchEvent(event);
            prevented = event.defaultPrevented;
        }
        return [prevented, el.closest('.panel').classList.contains('drop')];
    }"""
    # Dragged text is the browser's to drop into the message box, and not outlined; a file
    # outlines the panel while over it, and never opens in the tab.
    assert box.evaluate(drop, "") == [False, False]
    assert part(page, ".log").evaluate(drop, "Steps to reproduce: 1. open the app") == [
        True, True]
    expect(part(page, ".panel")).to_have_class("panel")  # the outline goes 0.2 s later
    doc = part(page, ".msg.mine a.doc")
    expect(doc).to_contain_text("notes.txt")
    assert visitor_file(agent, cid)["attachment"]["name"] == "notes.txt"
    expect(part(page, ".msg.mine")).to_have_count(2)  # the image pasted with text was not sent
    extra = agent.visitor_lines(0.3)
    assert extra == [], agent.unread


@pytest.mark.parametrize("lang", ["en", "fa", "ar", "zh"])
def test_a_refused_file_says_why_in_the_visitors_language_on_a_phone(desk, site, browser,
                                                                     lang: str):
    server, _ = desk
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        host_page(page, site, f"/{lang}/refused", embed(server, lang=lang, head=MOBILE))
        part(page, ".launcher").tap()
        panel = part(page, ".panel")
        expect(panel).to_be_visible()
        assert panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
        rtl = lang in ("fa", "ar")
        expect(part(page, ".cw")).to_have_attribute("dir", "rtl" if rtl else "ltr")
        clip = part(page, ".composer .icon")
        expect(clip).to_have_attribute("aria-label", ATTACH[lang])
        clip_box, send_box = clip.bounding_box(), part(page, ".composer .primary").bounding_box()
        assert clip_box and send_box and clip_box["width"] >= 32
        # Right to left, the paperclip sits to the left of the text box, Send further left.
        assert (send_box["x"] < clip_box["x"]) == rtl

        part(page, ".composer input[type=file]").set_input_files(
            payload("setup.exe", EXE, "application/x-msdownload"))
        error = part(page, ".msg.mine .error")
        expect(error).to_have_text(REFUSED[lang])
        expect(error).to_have_attribute("role", "alert")
        expect(part(page, ".msg.mine .tick")).to_have_text("!")
        expect(part(page, ".msg.mine bdi")).to_have_text("setup.exe")
        error_box = error.bounding_box()
        assert error_box is not None and error_box["x"] >= 0
        assert error_box["x"] + error_box["width"] <= 390
        screenshot(page, f"widget-attach-refused-{lang}")
        # Nothing was stored, and the chat goes on.
        assert sql(server.db, "SELECT count(*) FROM attachments WHERE name = 'setup.exe'") == [
            (0,)]
    finally:
        context.close()


def test_offline_files_wait_and_a_cut_upload_is_sent_again_once(desk, site, page):
    server, agent = desk
    open_chat(page, site, server, "/offline")
    cid = join(page, agent)

    # Offline: the file waits (sending), and goes when the connection is back.
    page.context.set_offline(True)
    expect(part(page, ".status")).to_have_text("Reconnecting…")
    part(page, ".composer input[type=file]").set_input_files(
        payload("while-offline.png", png(20, 20), "image/png"))
    expect(part(page, ".msg.mine .tick").last).to_have_text("◷")
    page.wait_for_timeout(300)
    assert agent.visitor_lines(0.2) == []
    page.context.set_offline(False)
    expect(part(page, ".msg.mine a img")).to_have_count(1)
    assert visitor_file(agent, cid)["attachment"]["name"] == "while-offline.png"

    # The first attempt is cut by the network after the server stored it: sent again with
    # the same X-Client-Id, stored once, shown once.
    ids: list[str] = []

    def cut_once(route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        ids.append(route.request.headers["x-client-id"])
        if len(ids) == 1:
            httpx.post(route.request.url, content=route.request.post_data_buffer,
                       headers={k: v for k, v in route.request.headers.items()
                                if k.lower() in ("authorization", "x-client-id", "x-file-name")})
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(f"{server.url}/api/visitor/attachments", cut_once)
    part(page, ".composer input[type=file]").set_input_files(
        payload("twice.png", png(21, 21), "image/png"))
    # The stored line reaches the visitor's socket at once; the answer was lost, and the
    # retry due after the backoff (0.25-0.5 s) is not sent: the line is back. (Should the
    # socket be slower than the backoff, the retry goes with the same id, answered from the
    # stored line.)
    expect(part(page, ".msg.mine a img")).to_have_count(2)
    page.wait_for_timeout(1000)
    assert len(ids) in (1, 2) and set(ids) == {ids[0]}, ids
    expect(part(page, ".msg.mine .tick").last).to_have_text("✓")
    expect(part(page, ".msg.mine")).to_have_count(2)
    stored = sql(server.db, "SELECT count(*) FROM attachments WHERE name = 'twice.png'")
    assert stored == [(1,)]
    lines = sql(server.db, "SELECT count(*) FROM events WHERE conversation_id = ? AND "
                "type = 'message' AND payload LIKE '%twice.png%'", (cid,))
    assert lines == [(1,)]
    page.unroute(f"{server.url}/api/visitor/attachments")


def test_a_file_the_page_lost_on_reload_fails_visibly(desk, site, page):
    server, _ = desk
    open_chat(page, site, server, "/lost")
    # The upload never finishes: the page holds its request until it is reloaded.
    page.route(f"{server.url}/api/visitor/attachments", lambda route: None
               if route.request.method == "POST" else route.continue_())
    part(page, ".composer input[type=file]").set_input_files(
        payload("half.png", png(22, 22), "image/png"))
    expect(part(page, ".msg.mine progress")).to_be_visible()
    page.reload()
    error = part(page, ".msg.mine .error")
    expect(error).to_have_text(
        "Not sent: the page was left before it finished. Please attach the file again.")
    expect(part(page, ".msg.mine .tick")).to_have_text("!")


def test_the_attachment_code_is_loaded_only_when_first_needed(desk, site, page):
    server, _ = desk
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url.rsplit("/", 1)[-1]))
    open_chat(page, site, server, "/lazy")
    part(page, ".composer textarea").fill("hello")
    part(page, ".composer textarea").press("Enter")
    expect(part(page, ".msg.bot")).to_have_count(1)
    assert "attach.js" not in loaded and "attach.css" not in loaded
    part(page, ".composer input[type=file]").set_input_files(
        payload("a.png", png(10, 10), "image/png"))
    expect(part(page, ".msg.mine a img")).to_have_count(1)
    assert "attach.js" in loaded and "attach.css" in loaded


def test_a_file_as_the_first_thing_sent_starts_the_chat_on_the_demo_page(desk, page):
    """Under the demo shop's strict CSP (img-src 'self', no inline style): the upload starts
    the conversation, the socket follows it, and a person can then join."""
    server, agent = desk
    page.goto(server.url + "/demo")
    part(page, ".launcher").click()
    part(page, ".prechat button", has_text="Skip").click()
    part(page, ".composer input[type=file]").set_input_files(
        payload("error.png", png(120, 80), "image/png"))
    thumb = part(page, ".msg.mine a img")
    expect(thumb).to_be_visible()
    page.wait_for_function("""() => { const i = document.querySelector('chat-widget')
        .shadowRoot.querySelector('.msg.mine a img'); return i && i.naturalWidth > 0; }""")
    cid = join(page, agent)
    offered = sql(server.db, "SELECT count(*) FROM attachments WHERE conversation_id = ?",
                  (cid,))
    assert offered == [(1,)]  # the file is in the conversation the agent took
    agent.request("message", conversation_id=cid, text="I see the error, one moment")
    expect(part(page, ".msg.agent .text").last).to_have_text("I see the error, one moment")


def test_over_the_rate_limit_a_file_says_so_and_goes_when_allowed(tmp_path, site, page):
    """One file per 2 s: the second of two waits, saying why, and is sent when the limit
    allows it (cross-origin, the widget cannot read Retry-After: the backoff retries)."""
    server = Server(tmp_path, CHATSERVER_ATTACHMENTS_UPLOADS_PER_VISITOR="1",
                    CHATSERVER_ATTACHMENTS_UPLOADS_PERIOD_SECONDS="2").start()
    try:
        open_chat(page, site, server, "/limited")
        part(page, ".composer input[type=file]").set_input_files([
            payload("one.png", png(10, 10), "image/png"),
            payload("two.png", png(11, 11), "image/png")])
        second = part(page, ".msg.mine").nth(1)
        expect(second.locator(".error")).to_have_text(
            "Too many files at once: sending again in a moment…")
        expect(second.locator(".tick")).to_have_text("◷")
        expect(part(page, ".msg.mine a img")).to_have_count(2)
        expect(second.locator(".error")).to_have_count(0)
        expect(second.locator(".tick")).to_have_text("✓")
        # In the order attached.
        assert [a for (a,) in sql(server.db, "SELECT name FROM attachments ORDER BY created_ms")
                ] == ["one.png", "two.png"]
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


def test_a_file_waits_when_the_attachment_code_fails_to_load_then_goes(desk, site, page):
    """attach.js answered 503 once (a server hiccup): the file's line shows, waiting, and the
    import is tried again (under a new URL) until it loads; then the file is sent."""
    server, _ = desk
    tries: list[str] = []

    def hiccup(route) -> None:
        tries.append(route.request.url)
        if len(tries) == 1:
            route.fulfill(status=503, body="busy", content_type="text/plain")
        else:
            route.continue_()

    page.route(f"{server.url}/widget/attach.js*", hiccup)
    open_chat(page, site, server, "/hiccup")
    part(page, ".composer input[type=file]").set_input_files(
        payload("patient.png", png(12, 12), "image/png"))
    line = part(page, ".msg.mine").last
    expect(line).to_contain_text("patient.png")
    expect(line.locator(".tick")).to_have_text("◷")
    expect(line.locator("a img")).to_be_visible(timeout=15000)
    assert len(tries) == 2 and tries[1].endswith("attach.js?1")


# Review of issue 19 item 1: defects found, each a test first.


def test_a_file_that_cannot_be_read_does_not_block_the_files_after_it(desk, site, page,
                                                                     tmp_path: Path):
    """A file changed on disk after it was picked (or on a removed USB stick) can never be
    read: the browser fails the upload with no status, as it does a network cut. It must not
    hold every later file behind it forever."""
    server, _ = desk
    open_chat(page, site, server, "/unreadable")
    say(page, "hello")
    expect(part(page, ".msg.bot")).to_have_count(1)
    path = tmp_path / "draft.txt"
    path.write_text("first version\n")
    page.context.set_offline(True)
    expect(part(page, ".status")).to_have_text("Reconnecting…")
    part(page, ".composer input[type=file]").set_input_files(str(path))
    part(page, ".composer input[type=file]").set_input_files(
        payload("after.png", png(16, 16), "image/png"))
    # the file changes after it was picked: the browser may no longer read it
    path.write_text("second, longer version of the file\n")
    os.utime(path, (1, 1))
    page.context.set_offline(False)
    # today: net::ERR_UPLOAD_FILE_CHANGED, status 0, read as a network cut and retried for
    # ever ("Connection problem: trying again…"), with after.png waiting behind it
    expect(part(page, ".msg.mine a img")).to_have_count(1, timeout=15000)


def test_a_persian_visitor_whose_language_file_fails_gets_a_consistent_widget(desk, site,
                                                                              page):
    """i18n-fa.js answered 503 (a server or CDN hiccup): the strings fall back to English.
    The widget must then not be laid out right to left and marked lang="fa" around English
    text (screen readers read it with a Persian voice)."""
    server, _ = desk
    page.route(f"{server.url}/widget/i18n-fa.js*", lambda route: route.fulfill(
        status=503, body="busy", content_type="text/plain"))
    host_page(page, site, "/fa-broken", embed(server, lang="fa"))
    part(page, ".launcher").click()
    title = part(page, "#cw-title")
    expect(title).to_be_visible()
    shown = title.inner_text()
    root = part(page, ".cw")
    if shown == "Chat with us":
        expect(root).to_have_attribute("dir", "ltr")
        expect(root).to_have_attribute("lang", "en")


def test_a_second_tab_does_not_call_an_upload_in_progress_lost(desk, site, page):
    """The chat is shared by every tab of the site (localStorage). While one tab uploads a
    file, opening another page of the site must not tell the visitor "Not sent … Please attach
    the file again": she would, and the agent would get the file twice."""
    server, _ = desk
    held: list = []
    page.route(f"{server.url}/api/visitor/attachments", lambda route: held.append(route)
               if route.request.method == "POST" else route.continue_())
    open_chat(page, site, server, "/tab-a")
    say(page, "hello")
    expect(part(page, ".msg.bot")).to_have_count(1)
    part(page, ".composer input[type=file]").set_input_files(
        payload("slow.png", png(30, 30), "image/png"))
    expect(part(page, ".msg.mine progress")).to_be_visible()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1  # tab A is uploading it, and still is

    other = page.context.new_page()
    site.pages["/tab-b"] = site.pages["/tab-a"]
    other.goto(site.url + "/tab-b")
    line = part(other, ".msg.mine").last
    expect(line).to_contain_text("slow.png")
    attach_js_drew_a_line(other)  # in tab B
    assert line.locator(".error").count() == 0, line.inner_text()
    expect(line.locator(".tick")).to_have_text("◷")
    held[0].continue_()
    expect(part(page, ".msg.mine a img")).to_have_count(1)


def test_no_paperclip_when_the_server_takes_no_files(tmp_path, site, page):
    """[attachments] enabled = false: every file the visitor picks is refused ("files cannot
    be sent in this chat"), so the widget should not offer the paperclip at all."""
    server = Server(tmp_path, CHATSERVER_ATTACHMENTS_ENABLED="false").start()
    try:
        open_chat(page, site, server, "/no-files")
        say(page, "hello")
        expect(part(page, ".msg.bot")).to_have_count(1)
        expect(part(page, ".composer button[aria-label='Attach a file']")).to_be_hidden()
    finally:
        server.stop()


def test_identify_on_every_page_does_not_reconnect_on_every_page(desk, site, page):
    """docs/widget.md: "Call it on every page while the user is logged in". With a chat open,
    each page view opens the socket, then drops it for a second one (transport.restart):
    two hellos per page view for every logged-in visitor in a chat."""
    server, _ = desk
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    snippet = ('<script>addEventListener("load", () => '
               'ChatWidget.identify({ name: "Mina", email: "mina@example.com" }));</script>')
    html = embed(server, body=snippet)
    host_page(page, site, "/identified", html)
    part(page, ".launcher").click()
    say(page, "hello")
    expect(part(page, ".msg.bot")).to_have_count(1)
    sockets.clear()
    page.reload()
    expect(part(page, ".msg.bot")).to_have_count(1)
    page.wait_for_timeout(1500)
    assert len(sockets) == 1, sockets


def test_a_file_attached_before_the_privacy_notice_was_shown_waits_for_consent(tmp_path,
                                                                              site, page):
    """A site that requires consent; the visitor opens the chat on a bad connection (no
    welcome yet, so no notice yet) and attaches a screenshot. When the notice then shows and
    she accepts it, her file goes: it is not refused as "files cannot be sent in this chat"."""
    server = Server(tmp_path, CHATSERVER_PRIVACY_REQUIRE_CONSENT="true").start()
    try:
        host_page(page, site, "/consent-first", embed(server))
        expect(part(page, ".launcher")).to_be_visible()
        page.context.set_offline(True)
        part(page, ".launcher").click()
        part(page, ".composer input[type=file]").set_input_files(
            payload("before-consent.png", png(14, 14), "image/png"))
        page.context.set_offline(False)
        accept = part(page, ".notice button", has_text="Accept")
        expect(accept).to_be_visible(timeout=15000)
        attach_js_drew_a_line(page, timeout=15000)  # retried (in 5 s), loaded, held the file
        accept.click()
        line = part(page, ".msg.mine").last
        expect(line.locator("a img, .error").first).to_be_attached(timeout=15000)
        assert line.locator(".error").count() == 0, line.inner_text()
        expect(line.locator("a img")).to_have_count(1)
    finally:
        server.stop()


def test_files_attached_before_end_chat_go_to_that_chat(desk, site, page):
    """The visitor attaches two screenshots and presses End chat while the first uploads.
    Lines typed before End chat are stored in the chat before it closes (the outbox keeps
    their order); her files must reach the agent of that chat too, not open a new
    conversation behind her back that nobody was offered."""
    server, agent = desk
    open_chat(page, site, server, "/end")
    cid = join(page, agent)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 200_000})
    part(page, ".composer input[type=file]").set_input_files([
        payload("first.png", png(300, 300, noise=True), "image/png"),
        payload("second.png", png(301, 301, noise=True), "image/png")])
    expect(part(page, ".msg.mine progress").first).to_be_visible()
    part(page, "button", has_text="End chat").first.click()
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    visitors_files = ("SELECT c.id, a.name FROM attachments a JOIN conversations c ON "
                      "c.id = a.conversation_id WHERE c.visitor_id = (SELECT visitor_id FROM "
                      "conversations WHERE id = ?) ORDER BY a.created_ms")
    deadline = time.monotonic() + 10
    while len(sql(server.db, visitors_files, (cid,))) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    # today: first.png "The file could not be sent." (409 conflict: the chat closed under
    # it), second.png stored in a new conversation in state bot, and the survey gone
    mine = sql(server.db, visitors_files, (cid,))
    assert mine == [(cid, "first.png"), (cid, "second.png")], mine
    assert sql(server.db, "SELECT count(*) FROM conversations WHERE visitor_id = (SELECT "
               "visitor_id FROM conversations WHERE id = ?)", (cid,)) == [(1,)]


def test_a_file_waiting_when_the_agent_ends_the_chat_is_not_put_in_a_new_one(desk, site,
                                                                           page):
    """Attached offline in a chat the agent then closed: when the connection is back the
    file is refused, saying why (X-Conversation-Id, 409), and no chat opens for it."""
    server, agent = desk
    open_chat(page, site, server, "/ended-meanwhile")
    cid = join(page, agent)
    page.context.set_offline(True)
    expect(part(page, ".status")).to_have_text("Reconnecting…")
    part(page, ".composer input[type=file]").set_input_files(
        payload("late.png", png(15, 15), "image/png"))
    agent.request("close", conversation_id=cid, resolved=True)
    page.context.set_offline(False)
    line = part(page, ".msg.mine").last
    expect(line.locator(".error")).to_have_text(
        "Not sent: this chat had ended. Start a new chat to send it.")
    expect(line.locator(".tick")).to_have_text("!")
    assert sql(server.db, "SELECT count(*) FROM conversations WHERE visitor_id = (SELECT "
               "visitor_id FROM conversations WHERE id = ?)", (cid,)) == [(1,)]
