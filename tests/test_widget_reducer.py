"""The widget's pure parts (reducer, backoff), run in Chromium as the browser loads them.

No server: the modules are served from the source tree through Playwright routing, exactly as
the server sends them (comments stripped), so these tests run even while the server cannot.
"""

from __future__ import annotations

from typing import Any

import pytest

from .browser import widget_modules

pytestmark = pytest.mark.browser



@pytest.fixture
def js(page):
    return widget_modules(page)


def run(page, actions: list[dict[str, Any]], start: dict[str, Any] | None = None) -> dict:
    """Fold `actions` over the reducer's initial state (plus `start`) and return the state."""
    return page.evaluate(
        """async ([actions, start]) => {
            const r = await import('/widget/reducer.js');
            let s = r.initial(start);
            for (const a of actions) s = r.reduce(s, a);
            return s;
        }""",
        [actions, start or {}],
    )


def frame(**f: Any) -> dict[str, Any]:
    return {"type": "frame", "frame": f}


WELCOME = frame(type="welcome", visitor_token="tok", conversation=None, agents_online=True)


def msg(seq: int, text: str, *, sender: str = "bot", id: str | None = None, cid: str = "c1",
        **extra: Any) -> dict[str, Any]:
    return frame(type="message", conversation_id=cid, seq=seq, ts="2026-11-23T18:00:00.000Z",
                 id=id or f"{cid}-{seq}", author=sender.title(), text=text, **{"from": sender},
                 **extra)


def test_a_message_typed_offline_waits_in_the_outbox_until_acked(js):
    s = run(js, [{"type": "send", "id": "m1", "text": "hi", "ts": "t"}])
    assert s["outbox"] == [{"type": "message", "id": "m1", "text": "hi"}]
    assert s["messages"][0]["pending"] is True
    s = run(js, [WELCOME, msg(2, "hi", sender="visitor", id="m1"),
                 frame(type="ack", id="m1", conversation_id="c1", seq=2)], s)
    assert s["outbox"] == []
    assert [(m["id"], m["seq"], m["pending"]) for m in s["messages"]] == [("m1", 2, False)]
    assert (s["conversationId"], s["lastSeq"], s["token"]) == ("c1", 2, "tok")


def test_replayed_events_are_shown_once_and_seq_only_grows(js):
    s = run(js, [msg(2, "a"), msg(3, "b"), msg(2, "a"), msg(3, "b"), msg(4, "c")])
    assert [m["text"] for m in s["messages"]] == ["a", "b", "c"]
    assert s["lastSeq"] == 4


def test_a_new_conversation_starts_its_seqs_again(js):
    s = run(js, [msg(9, "old"), msg(2, "new", cid="c2")])
    assert (s["conversationId"], s["lastSeq"]) == ("c2", 2)


def test_queue_then_assigned_then_typing_and_read(js):
    s = run(js, [msg(2, "x"), frame(type="queue", conversation_id="c1", state="queued",
                                    position=2, eta_seconds=90)])
    assert s["queue"] == {"state": "queued", "position": 2, "eta": 90}
    s = run(js, [frame(type="assigned", conversation_id="c1", seq=5, ts="t", agent="Alice"),
                 frame(type="typing", conversation_id="c1", **{"from": "agent"}, on=True),
                 frame(type="read", conversation_id="c1", **{"from": "agent"}, seq=4)], s)
    assert (s["queue"], s["agent"], s["agentTyping"], s["agentRead"]) == (None, "Alice", True, 4)
    assert s["messages"][-1]["note"] == "joined"
    s = run(js, [msg(6, "hello", sender="agent")], s)
    assert s["agentTyping"] is False


def test_closed_asks_for_the_survey_and_the_answer_is_queued_once(js):
    s = run(js, [msg(2, "x"), frame(type="closed", conversation_id="c1", seq=3, ts="t", by="agent"),
                 frame(type="survey_request", conversation_id="c1",
                       questions=[{"name": "rating"}, {"name": "nps"}])])
    assert s["closed"] is True
    assert s["survey"] == {"conversation_id": "c1", "nps": True, "done": False}
    s = run(js, [{"type": "survey", "id": "s1", "rating": 4, "nps": 9, "comment": "ok"},
                 {"type": "survey", "id": "s2", "rating": 1}], s)
    assert s["outbox"] == [{"type": "survey", "id": "s1", "conversation_id": "c1", "rating": 4,
                            "nps": 9, "comment": "ok"}]
    assert s["survey"]["done"] is True


def test_suggestions_are_chosen_once(js):
    s = run(js, [msg(2, "which?", suggestions=[{"entry_id": 7, "title": "Returns"}]),
                 {"type": "choose", "id": "k1", "entry_id": 7}])
    assert s["messages"][0]["suggestions"] is None
    assert s["outbox"] == [{"type": "choose", "id": "k1", "entry_id": 7}]


def test_asking_for_a_person_when_nobody_is_online_offers_the_message_form(js):
    offline = frame(type="welcome", visitor_token="t", conversation=None, agents_online=False)
    s = run(js, [offline, {"type": "request_human", "id": "h1"}])
    assert s["wantHuman"] == "h1" and s["outbox"] == []
    s = run(js, [offline], s)  # the fresh welcome the app reconnects for
    assert (s["view"], s["wantHuman"], s["outbox"]) == ("offline", None, [])
    s = run(js, [{"type": "offline_message", "id": "o1", "email": "a@b.co", "text": "call me"}], s)
    assert s["view"] == "left"
    assert s["outbox"] == [{"type": "offline_message", "id": "o1", "email": "a@b.co",
                            "text": "call me"}]


def test_asking_for_a_person_when_someone_is_online_queues_the_request(js):
    s = run(js, [WELCOME, {"type": "request_human", "id": "h1"}])
    assert s["outbox"] == [{"type": "request_human", "id": "h1"}] and s["asked"] is True


def test_every_moment_of_the_hand_off_has_a_state(js):
    """Issue 16: asked, offered, queued, offered again, then joined; the first frame may name
    a conversation the widget has not seen yet (asked before writing anything)."""
    s = run(js, [WELCOME, {"type": "request_human", "id": "h1"},
                 frame(type="ack", id="h1", conversation_id="c9", seq=2)])
    assert s["asked"] is True and s["queue"] is None
    s = run(js, [frame(type="queue", conversation_id="c9", state="offered", position=1,
                       eta_seconds=0)], s)
    assert s["conversationId"] == "c9" and s["queue"]["state"] == "offered"
    s = run(js, [frame(type="queue", conversation_id="c9", state="queued", position=3,
                       eta_seconds=200)], s)
    assert s["queue"] == {"state": "queued", "position": 3, "eta": 200}
    s = run(js, [frame(type="assigned", conversation_id="c9", seq=5, ts="t", agent="Ann")], s)
    assert (s["queue"], s["agent"]) == (None, "Ann")
    # A transfer: waiting again, with nobody.
    s = run(js, [frame(type="queue", conversation_id="c9", state="offered", position=1,
                       eta_seconds=0)], s)
    assert (s["queue"]["state"], s["agent"]) == ("offered", None)
    s = run(js, [frame(type="closed", conversation_id="c9", seq=9, ts="t", by="agent")], s)
    assert (s["queue"], s["asked"]) == (None, False)


def test_a_reload_while_waiting_says_connecting_until_the_queue_frame(js):
    waiting = frame(type="welcome", visitor_token="t", agents_online=True,
                    conversation={"id": "c1", "state": "offered", "seq": 4})
    s = run(js, [waiting])
    assert s["queue"] == {}
    bot = frame(type="welcome", visitor_token="t", agents_online=True,
                conversation={"id": "c1", "state": "bot", "seq": 4})
    assert run(js, [bot])["queue"] is None


def test_the_offline_frame_shows_the_message_form(js):
    s = run(js, [WELCOME, {"type": "request_human", "id": "h1"},
                 frame(type="offline", conversation_id="c1", reason="no_agents")])
    assert (s["view"], s["asked"], s["queue"]) == ("offline", False, None)


def test_refused_frames_leave_the_outbox_and_throttled_ones_stay(js):
    s = run(js, [{"type": "send", "id": "m1", "text": "a", "ts": "t"},
                 {"type": "send", "id": "m2", "text": "b", "ts": "t"},
                 frame(type="error", code="too_large", message="", id="m1"),
                 frame(type="error", code="rate_limited", message="", id="m2")])
    assert [o["id"] for o in s["outbox"]] == ["m2"]
    assert s["messages"][0]["failed"] is True


def test_a_refused_token_starts_a_new_visitor(js):
    s = run(js, [msg(2, "old chat"),
                 frame(type="error", code="unauthorized", message=""), WELCOME])
    assert (s["conversationId"], s["messages"], s["token"]) == (None, [], "tok")


def test_unknown_frames_and_actions_change_nothing(js):
    same = js.evaluate("""async () => {
        const r = await import('/widget/reducer.js');
        const s = r.initial({});
        return r.reduce(s, {type: 'frame', frame: {type: 'toString'}}) === s
            && r.reduce(s, {type: 'frame', frame: {type: 'future_frame'}}) === s
            && r.reduce(s, {type: '__proto__'}) === s;
    }""")
    assert same is True


def test_transcript_is_plain_text_with_every_line(js):
    text = js.evaluate("""async () => {
        const r = await import('/widget/reducer.js');
        let s = r.initial({});
        s = r.reduce(s, {type: 'send', id: 'm1', text: '<b>hi</b>', ts: 'T1'});
        s = r.reduce(s, {type: 'frame', frame: {type: 'message', conversation_id: 'c', seq: 3,
            ts: 'T2', id: 'x', from: 'agent', author: 'Alice', text: 'hello'}});
        return (await import('/widget/forms.js')).transcript(s, 'You');
    }""")
    assert text == "[T1] You: <b>hi</b>\n[T2] Alice: hello\n"


def test_backoff_grows_exponentially_with_jitter_and_a_cap(js):
    delays = js.evaluate("""async () => {
        const { backoff } = await import('/widget/transport.js');
        return [0, 1, 2, 3, 10, 30].map((n) => [backoff(n, () => 0), backoff(n, () => 1)]);
    }""")
    assert delays == [[250, 500], [500, 1000], [1000, 2000], [2000, 4000], [15000, 30000],
                      [15000, 30000]]


def test_a_late_queue_frame_does_not_undo_a_join_or_an_end(js):
    """Queue frames may cross processes: one built before the agent joined (its `seq` is the
    conversation's then) must not clear the agent, and none reopens a closed chat."""
    s = run(js, [msg(2, "x"), frame(type="queue", conversation_id="c1", state="offered",
                                    position=1, eta_seconds=0, seq=3),
                 frame(type="assigned", conversation_id="c1", seq=5, ts="t", agent="Ann"),
                 frame(type="queue", conversation_id="c1", state="queued", position=2,
                       eta_seconds=60, seq=4)])
    assert (s["queue"], s["agent"]) == (None, "Ann")
    # A transfer's frame is built after the join: waiting again, with nobody.
    s = run(js, [frame(type="queue", conversation_id="c1", state="offered", position=1,
                       eta_seconds=0, seq=7)], s)
    assert (s["queue"]["state"], s["agent"]) == ("offered", None)
    s = run(js, [frame(type="closed", conversation_id="c1", seq=9, ts="t", by="agent"),
                 frame(type="queue", conversation_id="c1", state="queued", position=1,
                       eta_seconds=5, seq=8)], s)
    assert (s["queue"], s["closed"], s["agent"]) == (None, True, None)


# Attachments (issue 19): the pure state changes of widget/attach.js, applied through the
# reducer's `apply` action as the app does.

PNG = {"id": "a1", "name": "shot.png", "media_type": "image/png", "size": 2048, "width": 640,
       "height": 480, "url": "/api/attachments/a1?sig=x",
       "thumbnail_url": "/api/attachments/a1/thumbnail?sig=x"}


def uploads(page, steps: list[list[Any]], start: dict[str, Any] | None = None) -> dict:
    """Fold steps over the state: ["stored", id, answer] | ["refused", id, code] |
    ["waiting", id, code] | ["orphaned", [held ids]] | [action]."""
    return page.evaluate(
        """async ([steps, start]) => {
            const r = await import('/widget/reducer.js');
            const a = await import('/widget/attach.js');
            let s = r.initial(start);
            for (const [kind, ...args] of steps) {
                const fn = kind === 'stored' ? (t) => a.stored(t, args[0], args[1])
                    : kind === 'refused' ? (t) => a.refused(t, args[0], args[1])
                    : kind === 'waiting' ? (t) => a.waiting(t, args[0], args[1])
                    : kind === 'orphaned' ? (t) => a.orphaned(t, new Set(args[0])) : null;
                s = r.reduce(s, fn ? { type: 'apply', fn } : kind);
            }
            return s;
        }""",
        [steps, start or {}],
    )


FILE = {"name": "shot.png", "size": 2048}


def attached(line_id: str) -> list[Any]:
    """What app.js dispatches for a file picked, dropped or pasted."""
    return [{"type": "send", "id": line_id, "ts": "T", "file": FILE}]


def test_a_line_from_the_server_keeps_its_attachment(js):
    s = run(js, [msg(3, "", sender="agent", attachment=PNG)])
    assert s["messages"][0]["attachment"] == PNG


def test_an_upload_is_a_pending_line_until_the_answer_then_shown_once(js):
    s = uploads(js, [[WELCOME], attached("f1")])
    line = s["messages"][0]
    assert (line["from"], line["pending"], line["file"]) == ("visitor", True, FILE)
    assert s["outbox"] == []  # files go over HTTP, not the socket
    s = uploads(js, [["waiting", "f1", "retry"]], s)
    assert (s["messages"][0]["pending"], s["messages"][0]["error"]) == (True, "retry")
    s = uploads(js, [["stored", "f1", {"conversation_id": "c7", "seq": 2, "attachment": PNG}]], s)
    line = s["messages"][0]
    assert (line["pending"], line["error"], line["seq"]) == (False, None, 2)
    assert line["attachment"] == PNG
    assert s["conversationId"] == "c7"  # the first thing sent may start the chat
    # A resume (or another tab) brings the same line back as a message frame: shown once.
    s = run(js, [msg(2, "", sender="visitor", id="f1", cid="c7", attachment=PNG)], s)
    assert [(m["id"], m["attachment"]["id"]) for m in s["messages"]] == [("f1", "a1")]


def test_a_refused_upload_says_why_and_a_lost_one_fails_visibly(js):
    s = uploads(js, [attached("f1"), attached("f2"), attached("f3"),
                     [{"type": "send", "id": "m1", "text": "hi", "ts": "t"}],
                     ["refused", "f1", "type"], ["orphaned", ["f3"]]])
    by_id = {m["id"]: m for m in s["messages"]}
    assert (by_id["f1"]["failed"], by_id["f1"]["error"]) == (True, "type")
    # f2's File is gone (the page was reloaded mid-upload): failed, never silently pending
    assert (by_id["f2"]["failed"], by_id["f2"]["error"], by_id["f2"]["pending"]) == (
        True, "lost", False)
    assert by_id["f3"]["pending"] is True and "failed" not in by_id["f3"]
    assert by_id["m1"]["pending"] is True and "failed" not in by_id["m1"]
    # A line another tab lost but the server has (its frame arrives): no longer failed.
    s = run(js, [msg(4, "", sender="visitor", id="f2", attachment=PNG)], s)
    assert next(m for m in s["messages"] if m["id"] == "f2")["failed"] is False


def test_attaching_after_the_chat_ended_starts_a_new_one(js):
    s = run(js, [msg(2, "x"),
                 frame(type="closed", conversation_id="c1", seq=3, ts="t", by="agent")])
    s = uploads(js, [attached("f1")], s)
    assert (s["closed"], s["conversationId"], [m["id"] for m in s["messages"]]) == (
        False, None, ["f1"])


def test_file_sizes_read_in_the_visitors_language(js):
    sizes = js.evaluate("""async () => {
        const { size } = await import('/widget/attach.js');
        return [size(900, 'en'), size(2048, 'en'), size(3.25e6, 'en'), size(2048, 'fa'),
                size(3.25e6, 'zh')];
    }""")
    assert sizes[:3] == ["900 byte", "2 kB", "3.3 MB"]
    assert sizes[3].startswith("۲") and "MB" in sizes[4]


def test_every_language_has_every_string(js):
    """The widget's strings and those of the modules loaded on first use (attachments; the
    survey and leave-a-message forms), in en, fa, ar and zh."""
    keys = js.evaluate("""async () => {
        const i = await import('/widget/i18n.js');
        const lazy = [await import('/widget/attach.js'), await import('/widget/forms.js')];
        const out = {};
        for (const lang of i.LANGUAGES) {
            await i.loadStrings(lang);
            out[lang] = [i, ...lazy].map((m) => Object.keys(m.STRINGS[lang]).sort());
        }
        return out;
    }""")
    assert list(keys) == ["en", "fa", "ar", "zh"]
    for lang, tables in keys.items():
        assert tables == keys["en"], lang


def test_the_transcript_names_the_files(js):
    text = js.evaluate("""async ([png]) => {
        const r = await import('/widget/reducer.js');
        let s = r.initial({});
        s = r.reduce(s, {type: 'frame', frame: {type: 'message', conversation_id: 'c', seq: 3,
            ts: 'T2', id: 'x', from: 'agent', author: 'Alice', text: '', attachment: png}});
        s = r.reduce(s, {type: 'send', id: 'f1', ts: 'T3', file: {name: 'lost.png', size: 1}});
        return (await import('/widget/forms.js')).transcript(s, 'You');
    }""", [PNG])
    assert text == "[T2] Alice: 📎 shot.png\n"  # a file not stored is not in it


def test_end_chat_waits_for_the_files_attached_before_it(js):
    """The files go over HTTP, beside the outbox: `close` follows once none is pending, so
    they reach the chat they were attached in (review of issue 19)."""
    s = uploads(js, [[WELCOME], [msg(2, "x")], attached("f1"), attached("f2"),
                     [{"type": "end", "id": "e1"}]])
    assert (s["outbox"], s["ending"]) == ([], "e1")
    s = uploads(js, [["stored", "f1", {"conversation_id": "c1", "seq": 3, "attachment": PNG}]],
                s)
    assert s["outbox"] == []
    s = uploads(js, [["refused", "f2", "too_large"]], s)
    assert (s["outbox"], s["ending"]) == ([{"type": "close", "id": "e1"}], None)
    # nothing pending: at once, as before
    s = run(js, [msg(2, "x"), {"type": "end", "id": "e2"}])
    assert s["outbox"] == [{"type": "close", "id": "e2"}]


def test_a_late_upload_answer_does_not_reopen_an_ended_chat(js):
    s = uploads(js, [[WELCOME], [msg(2, "x")], attached("f1"),
                     [frame(type="closed", conversation_id="c1", seq=4, ts="t", by="agent")],
                     ["stored", "f1", {"conversation_id": "c1", "seq": 3, "attachment": PNG}]])
    assert (s["closed"], s["conversationId"], s["survey"]["conversation_id"]) == (
        True, "c1", "c1")
    s = uploads(js, [["stored", "f1", {"conversation_id": "c9", "seq": 2, "attachment": PNG}]],
                s)
    assert (s["closed"], s["conversationId"]) == (True, "c1")


def test_only_an_upload_no_tab_holds_is_lost(js):
    """Another tab's upload in progress (its heartbeat fresh, or attached a moment ago and
    its attach.js still loading) is not this tab's to call lost."""
    lost = js.evaluate("""async () => {
        const r = await import('/widget/reducer.js');
        const a = await import('/widget/attach.js');
        const now = Date.parse('2026-12-06T12:00:00Z');
        let s = r.initial({});
        for (const [id, ts] of [['beating', '11:00'], ['young', '11:59:55'], ['left', '11:59:58'],
                                ['stale', '11:00'], ['old', '11:00']]) {
            s = r.reduce(s, {type: 'send', id, ts: `2026-12-06T${ts}Z`,
                             file: {name: 'a.png', size: 1}});
        }
        s = a.orphaned(s, new Set(), {beating: now - 4000, left: -(now - 2000),
                                      stale: now - 20000}, now);
        return s.messages.filter((m) => m.failed).map((m) => m.id);
    }""")
    assert lost == ["left", "stale", "old"]


def test_the_welcome_says_whether_files_are_taken(js):
    off = frame(type="welcome", visitor_token="tok", conversation=None, agents_online=True,
                attachments=False)
    assert run(js, [off])["files"] is False
    assert run(js, [WELCOME]).get("files") is None  # an older server: the paperclip stays
