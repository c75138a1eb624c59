"""Attachments at their edges (issue 19 item 1 review): a client id shared with a text line,
uploads racing the first message, the bot's answer to a file, who may download, text files'
names, decoding cost, phones' photo trailers, and the export's memory.

Most tests share one server per backend, each with an agent of its own; the one that measures
the server process's memory starts its own (`fresh_desk`)."""

from __future__ import annotations

import asyncio
import functools
import io

import pytest

from .databases import db_location
from .harness import Server, add_user, agent, sql, visitor
from .test_attachments import image_bytes
from .test_attachments_server import chatting, desk, fresh_desk, new_agent, staff, token_of, upload

pytestmark = pytest.mark.anyio
__all__ = ["db_location", "desk", "fresh_desk"]


async def test_an_upload_reusing_a_messages_client_id_is_a_clear_error_not_a_500(
        desk: Server, clients: list) -> None:
    """The widget's text line and its file line share one id space per conversation (the
    events' client_id): an upload whose X-Client-Id a text message already used must not
    crash with a KeyError on payload["attachment"]."""
    _carol, sara, _cid = await chatting(desk, clients, new_agent(desk))
    await sara.send({"type": "message", "id": "line-1", "text": "hello"})
    await sara.expect("ack", where=lambda f: f.get("id") == "line-1")
    sent = await upload(desk, token_of(sara), b"receipt\n", "r.txt", "line-1")
    assert sent.status_code in (400, 409), (sent.status_code, sent.text)
    assert sent.json()["error"] and sent.json()["message"]


async def test_an_agent_upload_reusing_a_messages_client_id_is_a_clear_error(
        desk: Server, clients: list) -> None:
    name = new_agent(desk)
    carol, _sara, cid = await chatting(desk, clients, name)
    await carol.send({"type": "message", "id": "agent-line-1", "conversation_id": cid,
                      "text": "send me a photo please"})
    await carol.expect(("ack", "error"), where=lambda f: f.get("id") == "agent-line-1")
    async with staff(desk, name) as console:
        sent = await console.post(f"/api/conversations/{cid}/attachments", content=b"hi\n",
                                  headers={"x-client-id": "agent-line-1",
                                           "x-file-name": "a.txt"})
    assert sent.status_code in (400, 409), (sent.status_code, sent.text)


async def test_two_files_dropped_at_once_start_one_chat(desk: Server, clients: list) -> None:
    """A visitor with no chat yet drops two screenshots at once (the widget uploads each): the
    handler reads the open conversation before the body and the decode, and starts one after,
    so both uploads start a chat of their own. The visitor's socket resumes only the newest;
    the other file sits in an orphaned open chat nobody sees."""
    sara = await visitor(desk, name="Sara")
    clients.append(sara)
    shot = image_bytes("PNG", size=(1200, 900))
    token = token_of(sara)
    first, second = await asyncio.gather(upload(desk, token, shot, "one.png"),
                                         upload(desk, token, shot, "two.png"))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    vid = sql(desk.db, "SELECT visitor_id FROM conversations WHERE id = ?",
              (first.json()["conversation_id"],))[0][0]
    open_chats = sql(desk.db, "SELECT count(*) FROM conversations WHERE visitor_id = ? AND "
                              "state != 'closed'", (vid,))[0][0]
    assert first.json()["conversation_id"] == second.json()["conversation_id"]
    assert open_chats == 1


async def test_a_file_and_a_first_message_sent_together_start_one_chat(
        desk: Server, clients: list) -> None:
    """The visitor's first action: attach a screenshot and type "this is the error" while it
    goes up. The upload read "no open chat" before decoding the image and starts its own
    after; the socket's message started one meanwhile: two open chats, the file in one and the
    words in the other, and an agent gets only half of it."""
    sara = await visitor(desk, name="Sara")
    clients.append(sara)
    shot = image_bytes("PNG", size=(2400, 1800))
    going = asyncio.create_task(upload(desk, token_of(sara), shot, "error.png"))
    await asyncio.sleep(0.05)  # the upload is being decoded
    ack = await sara.request("message", text="this is the error I get")
    sent = await going
    assert sent.status_code == 200, sent.text
    assert ack["type"] == "ack"
    assert sent.json()["conversation_id"] == ack["conversation_id"]


async def test_a_file_sent_to_the_bot_gets_an_answer(desk: Server, clients: list) -> None:
    """The most common first move of a visitor with a problem: a screenshot of the error.
    The chat is with the bot, which takes no turn on a file, and nothing else answers either:
    no line says the bot cannot read it or offers a person, so the visitor waits for a reply
    that never comes (nobody is offered the chat until they ask for a human)."""
    carol = await agent(desk, new_agent(desk))
    olga, sara = await visitor(desk, name="Olga"), await visitor(desk, name="Sara")
    clients += [carol, olga, sara]
    # The same desk answers words at once (the bot, or a person when nothing fits) ...
    await olga.request("message", text="the checkout page shows an error")
    await olga.expect(("message", "queued", "assigned"),
                      where=lambda f: f.get("from") != "visitor", timeout=5)
    # ... but the screenshot of that error gets nothing at all.
    sent = await upload(desk, token_of(sara), image_bytes("PNG"), "error.png")
    assert sent.status_code == 200, sent.text
    await sara.expect("message", where=lambda f: f.get("attachment"))
    reply = await sara.expect(("message", "queued", "assigned"),
                              where=lambda f: f.get("from") != "visitor", timeout=5)
    assert reply


async def test_an_agent_cannot_read_files_of_chats_they_may_not_see(
        desk: Server, clients: list) -> None:
    """Least privilege elsewhere (history, search, transcripts): an agent sees only chats
    offered to or held by them, others are 404. A file in Carol's chat is read by any agent
    with the id: the download checks only that the cookie is staff."""
    add_user(desk.db, "dave")
    _carol, sara, cid = await chatting(desk, clients, new_agent(desk))
    sent = await upload(desk, token_of(sara), image_bytes("PNG"), "passport.png")
    url = f"/api/attachments/{sent.json()['attachment']['id']}"
    async with staff(desk, "dave") as dave:
        transcript = await dave.get(f"/api/conversations/{cid}/transcript")
        assert transcript.status_code == 404  # the chat is not Dave's to see...
        got = await dave.get(url)
        assert got.status_code in (403, 404), got.status_code  # ...nor is its file


async def test_a_pixel_motion_photo_is_accepted_without_its_video(
        desk: Server, clients: list) -> None:
    """Pixel phones take "motion photos" by default: a JPEG with a short MP4 appended after
    EOI (file name PXL_….MP.jpg, picked as-is by a browser's file input). The served bytes are
    re-encoded pixels either way, so the video can be dropped like Samsung's trailer; refusing
    it as a `polyglot` refuses an ordinary phone photo."""
    _carol, sara, _cid = await chatting(desk, clients, new_agent(desk))
    mp4 = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
           + b"\x00\x00\x00\x08free" + b"\x00\x00\x00\x10mdat" + b"\x00" * 8)
    photo = image_bytes("JPEG", size=(400, 300)) + mp4
    sent = await upload(desk, token_of(sara), photo, "PXL_20261206_101010123.MP.jpg")
    assert sent.status_code == 200, sent.text
    assert sent.json()["attachment"]["media_type"] == "image/jpeg"


async def test_who_on_staff_reads_a_file_follows_the_transcript_rule(
        desk: Server, clients: list) -> None:
    """Supervisors and admins read any file; the agent who served a chat still reads its files
    after it closed; a password still to change reads none. A thumbnail downloads as .webp."""
    add_user(desk.db, "sue", role="supervisor")
    add_user(desk.db, "newbie", role="supervisor")
    sql(desk.db, "UPDATE users SET must_change_password = 1 WHERE username = 'newbie'")
    name = new_agent(desk)
    carol, sara, cid = await chatting(desk, clients, name)
    sent = await upload(desk, token_of(sara), image_bytes("PNG"), "screen.png")
    url = f"/api/attachments/{sent.json()['attachment']['id']}"
    await carol.request("close", conversation_id=cid, resolved=True)
    for who, status in (("sue", 200), (name, 200), ("newbie", 403)):
        async with staff(desk, who) as console:
            got = await console.get(url)
            assert got.status_code == status, (who, got.text)
            if status == 403:
                assert got.json()["error"] == "password_change_required"
            else:
                thumb = await console.get(url + "/thumbnail")
                assert thumb.headers["content-disposition"].endswith("''screen.webp")


async def test_the_bots_word_on_a_file_is_in_the_visitors_language_and_only_while_it_answers(
        desk: Server, clients: list) -> None:
    from chatserver.core.messages import MESSAGES

    add_user(desk.db, "parisa", skills={"lang:fa": 5})
    parisa = await agent(desk, "parisa")  # online: asking for a person offers her the chat
    reza = await visitor(desk, name="Reza", language="fa")
    clients += [parisa, reza]
    sent = await upload(desk, token_of(reza), b"order 4711\n", "order.txt")
    assert sent.status_code == 200, sent.text
    reply = await reza.expect("message", where=lambda f: f.get("from") == "bot")
    assert reply["text"] == MESSAGES["cannot_read_files"]["fa"]
    assert reply["actions"] == ["human"]
    queued = await reza.request("request_human")  # the offer is no failed round: asked now
    assert queued["type"] == "ack", queued
    await parisa.expect("offer")
    again = await upload(desk, token_of(reza), b"order 4712\n", "order2.txt")
    assert again.status_code == 200
    await reza.expect("message", where=lambda f: f.get("attachment"))
    with pytest.raises((AssertionError, TimeoutError)):  # a person is asked for: no bot line
        await reza.expect("message", where=lambda f: f.get("from") == "bot", timeout=0.5)


async def test_a_pdf_that_runs_script_is_refused_over_http(desk: Server,
                                                          clients: list) -> None:
    from .test_attachments import SIMPLE_PDF

    _carol, sara, _cid = await chatting(desk, clients, new_agent(desk))
    stored = sql(desk.db, "SELECT count(*) FROM attachments")[0][0]
    scripted = SIMPLE_PDF.replace(b"/Type /Catalog",
                                  b"/Type /Catalog /OpenAction << /S /JavaScript /JS (x) >>")
    sent = await upload(desk, token_of(sara), scripted, "invoice.pdf")
    assert (sent.status_code, sent.json()["error"]) == (415, "pdf_script"), sent.text
    assert "JavaScript" in sent.json()["message"]
    assert sql(desk.db, "SELECT count(*) FROM attachments")[0][0] == stored


def _peak_rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


@functools.cache
def _flat_png(side: int) -> bytes:
    """A one-colour RGBA PNG, side x side: made once for both backends (encoding the 7000 px
    one costs the test process ~1.5 s of CPU)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (side, side), (1, 2, 3, 4)).save(out, "PNG")
    return out.getvalue()


async def test_a_small_png_does_not_cost_a_gigabyte_to_decode(
        fresh_desk: Server, clients: list) -> None:
    """A 200 KB PNG of 7000x7000 RGBA pixels is under max_pixels (50 million) and under
    max_bytes, so it is decoded: ~190 MB of pixels, copied by exif_transpose, convert and the
    thumbnail, ~950 MB peak and ~5.5 s of a core in one decoder slot (DECODERS = 2). Two such
    uploads (any stranger, 20 per visitor per 10 min, visitors are free) hold every decoder
    slot of the process and about 2 GB. (Was: max_pixels 50 million. Now 25 million refuses
    it from its header, and the largest it lets through stays within the bound.)"""
    sara = await visitor(fresh_desk, name="Sara")
    clients.append(sara)
    flat = _flat_png(7000)
    assert len(flat) < 300_000
    assert fresh_desk.proc is not None
    before = _peak_rss_mb(fresh_desk.proc.pid)
    sent = await upload(fresh_desk, token_of(sara), flat, "flat.png")
    assert sent.status_code in (200, 422), sent.text
    grew = _peak_rss_mb(fresh_desk.proc.pid) - before
    assert grew < 400, f"decoding one 200 KB upload raised the server's peak by {grew} MB"
    # The largest image max_pixels lets through (25 million, with transparency) is decoded,
    # served at 4096 px, within the same bound.
    sent = await upload(fresh_desk, token_of(sara), _flat_png(5000), "flat.png")
    assert sent.status_code == 200, sent.text
    assert (sent.json()["attachment"]["width"], sent.json()["attachment"]["height"]) == (
        4096, 4096)
    grew = _peak_rss_mb(fresh_desk.proc.pid) - before
    print(f"peak growth after a 25 MP PNG: {grew} MB")
    assert grew < 400, f"decoding a 25 MP upload raised the server's peak by {grew} MB"


async def test_a_text_file_is_downloaded_as_text_not_under_its_claimed_extension(
        desk: Server, clients: list) -> None:
    """The type is decided by the bytes, and file_name() forces the type's extension on every
    kept type but text/plain: a visitor's text file named steps.html (markup after the first
    line passes the sniff), fix.js, run.hta or update.bat reaches the agent's Downloads under
    that name, where a double-click renders it as a page or runs it as a script."""
    name = new_agent(desk)
    _carol, sara, _cid = await chatting(desk, clients, name)
    body = b"Hello, the steps I took:\n<script>alert(document.cookie)</script>\n"
    async with staff(desk, name) as console:
        for claimed in ("steps.html", "fix.js", "run.hta", "update.bat", "logo.svg"):
            sent = await upload(desk, token_of(sara), body, claimed)
            assert sent.status_code == 200, sent.text
            got = await console.get(f"/api/attachments/{sent.json()['attachment']['id']}")
            disposition = got.headers["content-disposition"]
            assert disposition.startswith("attachment;")
            assert disposition.endswith(".txt"), disposition


async def test_an_export_does_not_hold_every_file_in_memory_several_times(
        tmp_path, clients: list) -> None:
    """export_visitor reads every file's bytes at once, base64s each into one dict, and the
    API returns it as one JSONResponse: a visitor's files cost several times their size in the
    server's memory at once. 20 files (one visitor's allowance for 10 minutes) of 10 MiB are
    200 MiB; a week of uploads is far more, and one access request takes the process down."""
    server = Server(tmp_path)
    add_user(server.db, "carol")
    add_user(server.db, "root", role="admin")
    server.start()
    try:
        _carol, sara, cid = await chatting(server, clients)
        per_file = 9 * 1024 * 1024
        for i in range(8):
            body = (b"%d" % i) + b"a" * (per_file - 2) + b"\n"
            sent = await upload(server, token_of(sara), body, f"log{i}.txt")
            assert sent.status_code == 200, sent.text
        vid = sql(server.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))[0][0]
        assert server.proc is not None
        before = _peak_rss_mb(server.proc.pid)
        async with staff(server, "root") as admin:
            admin.timeout = 120
            export = await admin.get(f"/api/privacy/visitors/{vid}/export")
            assert export.status_code == 200
        grew = _peak_rss_mb(server.proc.pid) - before
        files_mb = 8 * per_file // (1024 * 1024)
        print(f"export of {files_mb} MB of files: peak growth {grew} MB")
        assert grew < 2 * files_mb, f"{files_mb} MB of files: the export's peak grew {grew} MB"
    finally:
        server.stop()


async def test_the_streamed_export_is_one_json_document_even_when_a_file_goes_meanwhile(
        db_location: str) -> None:
    """export_json writes the records, then each file's bytes in base64 chunks; a file erased
    or purged after the export was read is left out, and the document stays valid JSON."""
    import base64
    import json

    from chatserver.privacy import data_rights as privacy
    from chatserver.store.store import Store

    store = Store(db_location)
    await store.open()
    try:
        await store.upsert_visitor("vf", {"name": "Fay", "language": "en"}, 1)
        await store.create_conversation("cf", "vf", {"language": "en"}, 1)
        bodies = {f"f{i}": bytes([i]) * (privacy.EXPORT_CHUNK * 2 + i) for i in range(3)}
        for i, (fid, body) in enumerate(bodies.items()):
            row = (fid, "cf", "vf", "visitor", f"{fid}.txt", "text/plain", len(body), None,
                   None, body, None, 10 + i)
            await store.write(lambda conn, row=row: conn.execute(
                "INSERT INTO attachments (id, conversation_id, visitor_id, author, name, "
                "media_type, size, width, height, data, thumbnail, created_ms) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row))
        data = await privacy.export_visitor(store, "vf", 100)
        assert data is not None and [f["id"] for f in data["attachments"]] == list(bodies)
        await store.write(lambda conn: conn.execute("DELETE FROM attachments WHERE id = 'f0'"))
        text = b"".join([part async for part in privacy.export_json(store, data)])
        exported = json.loads(text)
        assert exported["visitor"]["name"] == "Fay" and exported["format"] == privacy.FORMAT
        assert [f["id"] for f in exported["attachments"]] == ["f1", "f2"]
        for file in exported["attachments"]:
            assert base64.b64decode(file["data_base64"]) == bodies[file["id"]]
            assert file["name"] == f"{file['id']}.txt"
    finally:
        await store.close()
