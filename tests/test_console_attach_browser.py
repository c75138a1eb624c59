"""Files in the agent console, in Chromium against the real server: a visitor's photo shows as
a thumbnail that opens the full image, the agent attaches a PDF with the button (progress,
then sent), drops an image on the chat, and a refused file says why; the supervisor's view of
the chat shows the files too."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import quote

import httpx
import pytest
from websockets.sync.client import connect

from .browser import screenshot
from .harness import Server, add_user
from .test_attachments import SIMPLE_PDF, image_bytes, phone_photo
from .test_console_browser import log_in, next_frame

pytestmark = pytest.mark.browser


def test_files_both_ways_in_the_console(server: Server, page, browser, tmp_path) -> None:
    add_user(server.db, "maryam", display_name="Maryam")
    log_in(page, server, "maryam")
    page.wait_for_selector('#conn[data-state="online"]')
    page.click("#status-online")
    page.wait_for_selector('#status-online[aria-checked="true"]')

    with connect(server.ws + "/ws/visitor") as sara:
        sara.send(json.dumps({"type": "hello", "name": "Sara"}))
        token = next_frame(sara, "welcome")["visitor_token"]
        sara.send(json.dumps({"type": "request_human", "id": str(uuid.uuid4())}))
        page.click(".offer .btn-primary")
        page.wait_for_selector('.tab[aria-selected="true"] >> text=Sara')
        next_frame(sara, "assigned")

        # The visitor's photo: a thumbnail in the transcript, opening the full image.
        sent = httpx.post(server.url + "/api/visitor/attachments", content=phone_photo(),
                          headers={"authorization": f"Bearer {token}", "x-client-id": "p1",
                                   "x-file-name": quote("broken parcel.jpg")})
        assert sent.status_code == 200, sent.text
        thumb = page.wait_for_selector(".transcript:not([hidden]) .line-visitor "
                                       ".attachment-image img")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb)
        assert thumb.get_attribute("alt") == "broken parcel.jpg"
        link = page.locator(".line-visitor .attachment-image").last
        assert link.get_attribute("href") == sent.json()["attachment"]["url"].split("?")[0]
        assert link.get_attribute("target") == "_blank"
        assert "File: broken parcel.jpg" in page.locator('.tab[aria-selected="true"]').inner_text()
        full = page.request.get(server.url + link.get_attribute("href"))
        assert full.status == 200 and full.headers["content-type"] == "image/jpeg"

        # The agent's PDF through the button: an upload line, then the file's line, sent.
        pdf = tmp_path / "invoice 4711.pdf"
        pdf.write_bytes(SIMPLE_PDF)
        page.set_input_files("#attach-input", str(pdf))
        page.wait_for_selector(".line-agent .attachment-file >> text=invoice 4711.pdf")
        page.wait_for_selector(".line-agent .delivery >> text=Sent ✓")
        assert page.locator(".line-agent .attachment-size").last.inner_text().endswith("B")
        got = next_frame(sara, "message", **{"from": "agent"})
        assert got["attachment"]["name"] == "invoice 4711.pdf"
        assert "?sig=" in got["attachment"]["url"]

        # An image dropped on the chat goes too.
        png = base64.b64encode(image_bytes("PNG", size=(90, 60))).decode()
        page.evaluate("""([data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const drop = new DataTransfer();
            drop.items.add(new File([bytes], "screen.png", { type: "image/png" }));
            const pane = document.getElementById("chat");
            const init = { dataTransfer: drop, bubbles: true, cancelable: true };
            pane.dispatchEvent(new DragEvent("dragover", init));
            pane.dispatchEvent(new DragEvent("drop", init));
        }""", [png])
        dropped = page.wait_for_selector(".line-agent .attachment-image img[alt='screen.png']")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=dropped)
        assert next_frame(sara, "message", **{"from": "agent"})["attachment"]["width"] == 90

        # A refused file says why, in its line and a toast; nothing reaches the visitor.
        svg = tmp_path / "logo.svg"
        svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
        page.set_input_files("#attach-input", str(svg))
        page.wait_for_selector(".line-agent.failed .delivery >> text=Not sent")
        assert "SVG" in page.locator(".line-agent.failed .delivery").inner_text()
        page.wait_for_selector(".toast-error")
        screenshot(page, "console_attachments")

        # The supervisor watching the chat sees the same files.
        add_user(server.db, "sue", role="supervisor", display_name="Sue")
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        watcher = context.new_page()
        try:
            log_in(watcher, server, "sue")
            watcher.wait_for_url("**/console/supervisor")
            watcher.click("#convs-table tbody tr:has-text('Sara')")
            watcher.wait_for_selector(
                "#watch-transcript .attachment-image img[alt='broken parcel.jpg']")
            watcher.wait_for_selector("#watch-transcript .attachment-file >> text=invoice 4711.pdf")
        finally:
            context.close()
