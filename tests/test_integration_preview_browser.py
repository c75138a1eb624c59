"""What the agent's console shows of an integration's line (issue 21 review, finding 7)."""

from __future__ import annotations

from .harness import Server, add_user, sql
from .test_api_tokens import call, callers, make_token, session
from .test_canned_browser import go_online
from .test_console_browser import next_frame, visitor

__all__ = ["callers"]  # closes the clients `call` keeps when this module is done


def test_the_chat_list_never_says_you_wrote_an_integrations_line(server: Server,
                                                                   page) -> None:
    """An agent holds Sara's chat; the order system (an API token) posts "Your refund was
    rejected." The agent's chat list previews it as "You: Your refund was rejected." —
    the agent is told they said something they never said. console_frames.js:51 maps every
    `from` that is not visitor/bot to "you". The preview names the integration (its
    author) instead."""
    add_user(server.db, "root", role="admin")
    add_user(server.db, "maryam", role="agent", skills={"lang:en": 5}, display_name="Maryam")
    with session(server) as admin:
        token = make_token(admin, "Order system", "write")["token"]
    go_online(page, server, "maryam")
    with visitor(server, "Sara", "Where is my refund?") as sara:
        page.wait_for_selector(".offer")
        page.click(".offer .btn-primary")
        page.wait_for_selector('.tab[aria-selected="true"] >> text=Sara')
        ((cid,),) = sql(server.db, "SELECT id FROM conversations")
        posted = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                      json={"id": "r1", "text": "Your refund was rejected."})
        assert posted.status_code == 201, posted.text
        next_frame(sara, "message", author="Order system")
        page.wait_for_selector(".transcript:not([hidden]) >> text=Your refund was rejected.")
        preview = page.locator(".tab .tab-preview").first.inner_text()
        assert not preview.startswith("You"), preview
        assert preview == "Order system: Your refund was rejected.", preview
