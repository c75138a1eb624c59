"""`/ws/agent`: the console's socket. Only a logged-in user gets further than a close."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from chatserver.cluster.connections import Connection
from chatserver.core import frames
from chatserver.core.errors import CLOSE_POLICY, Unauthorized
from chatserver.core.frames import Frame, encode
from chatserver.privacy import audit
from chatserver.service.agent_side import AgentProfile
from chatserver.service.event_frames import skills_from_json
from chatserver.service.labelling import Staff
from chatserver.service.supervision import Record

from .auth import current_user, same_origin
from .sockets import receive_loop

if TYPE_CHECKING:
    from .hub import Hub


async def agent_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    # Another site's page must not ride on an agent's cookie (cross-site WebSocket hijacking).
    if not same_origin(websocket):
        await websocket.close(CLOSE_POLICY, "cross-site socket refused")
        return
    user = await current_user(websocket)
    if user is None:
        # Accepted first, so a page can read the code and reason and go to /login (the
        # console does): a refused handshake reaches it as a bare 1006, like a server down.
        await websocket.accept()
        await websocket.close(CLOSE_POLICY, "log in first")
        return
    if user["must_change_password"]:
        await websocket.close(CLOSE_POLICY, "choose your own password first (on /account)")
        return
    await websocket.accept()
    agent_id = int(user["id"])
    service = hub.service
    conn = Connection(websocket, hub.config.limits.send_queue, f"agent:{agent_id}",
                      service.agent_backlog_for(agent_id))
    profile = AgentProfile(  # the status is service.agent_connected's to decide
        id=agent_id, username=user["username"], display_name=user["display_name"],
        role=user["role"], skills=skills_from_json(user["skills"]), capacity=user["capacity"],
    )
    greeted = False

    async def hello(frame: Frame) -> dict[str, Any] | None:
        # Frames flow from here on, not from the handshake, and wait for the welcome; the
        # chats it lists are held until the console resumes them: each event once, in order.
        nonlocal greeted
        if greeted:
            raise Unauthorized("hello was already sent on this socket")
        greeted = True
        conversations = await service.open_conversations_of(agent_id)
        conn.hold({c["id"]: c["seq"] for c in conversations})
        hub.registry.add_agent(agent_id, conn, supervisor=profile.role != "agent")
        await service.agent_connected(profile)
        return {
            "type": "welcome",
            "agent": {"id": agent_id, "username": profile.username,
                      "display_name": profile.display_name, "role": profile.role,
                      "skills": profile.skills, "capacity": profile.capacity,
                      "status": service.agents[agent_id].status},
            "conversations": conversations,
            "queue": await service.dispatcher.queue_snapshot(),
        }

    async def status(frame: Frame) -> dict[str, Any] | None:
        await service.set_status(agent_id, frame["status"])
        return {"type": "status", "status": frame["status"]}

    async def accept(frame: Frame) -> dict[str, Any] | None:
        return (await service.accept(agent_id, frame["conversation_id"], frame.key,
                                     origin=conn)).ack

    async def decline(frame: Frame) -> dict[str, Any] | None:
        return (await service.decline(agent_id, frame["conversation_id"], frame.key,
                                      origin=conn)).ack

    async def message(frame: Frame) -> dict[str, Any] | None:
        return (await service.agent_message(agent_id, frame["conversation_id"], frame.key,
                                            hub.redactor(frame["text"]), note=False,
                                            origin=conn, entry_id=frame.get("entry_id"))).ack

    async def note(frame: Frame) -> dict[str, Any] | None:
        return (await service.agent_message(agent_id, frame["conversation_id"], frame.key,
                                            hub.redactor(frame["text"]), note=True,
                                            origin=conn)).ack

    async def typing(frame: Frame) -> dict[str, Any] | None:
        """Typing goes to the visitor of a chat this agent holds."""
        conv = await service.agent_view(agent_id, frame["conversation_id"], holder=True)
        hub.bus.to_visitor(conv.visitor_id, encode({
            "type": "typing", "conversation_id": conv.id, "from": "agent", "on": frame["on"]}))
        return None

    async def read(frame: Frame) -> dict[str, Any] | None:
        """A read receipt in a chat this agent holds is kept as the chat's read position (the
        agent's other devices count from it) and goes to the visitor and to this agent's
        consoles (the sender's own too: nothing to do there); one that moves nothing on
        (another device told it already) goes nowhere."""
        conv = await service.agent_view(agent_id, frame["conversation_id"], holder=True)
        if await hub.store.mark_agent_read(conv.id, frame["seq"]):
            text = encode({"type": "read", "conversation_id": conv.id, "from": "agent",
                           "seq": frame["seq"]})
            hub.bus.to_visitor(conv.visitor_id, text)
            hub.bus.to_agents([agent_id], text)
        return None

    async def transfer(frame: Frame) -> dict[str, Any] | None:
        return (await service.transfer(
            agent_id, frame["conversation_id"], frame.key, to_agent=frame.get("to_agent"),
            to_skill=frame.get("to_skill"), note=frame.get("note"), origin=conn)).ack

    async def close(frame: Frame) -> dict[str, Any] | None:
        return (await service.close_by_agent(agent_id, frame["conversation_id"], frame.key,
                                             frame["resolved"], origin=conn,
                                             entry_id=frame.get("entry_id"))).ack

    async def label(frame: Frame) -> dict[str, Any] | None:
        # The live profile, as agent_view reads it: an admin may have changed the role since
        # this socket opened, and the change lands on the newest tab's profile only.
        live = service.agents.get(agent_id, profile)
        staff = Staff(agent_id, live.role, live.display_name)
        return (await service.set_label(staff, frame["conversation_id"], frame["label_id"],
                                        frame["on"], frame.key, origin=conn)).ack

    def audited(action: str, cid: str) -> Record:
        """The audit entry of a supervisor's change, written with its event (supervision.py)."""
        address = audit.address_of(websocket)
        return lambda detail: audit.entry_job(user, action, f"conversation:{cid}", detail,
                                              address, now_ms=service.clock())

    async def whisper(frame: Frame) -> dict[str, Any] | None:
        cid = frame["conversation_id"]
        return (await service.whisper(agent_id, cid, frame.key, hub.redactor(frame["text"]),
                                      record=audited("supervisor.whisper", cid),
                                      origin=conn)).ack

    async def take_over(frame: Frame) -> dict[str, Any] | None:
        cid = frame["conversation_id"]
        return (await service.take_over(agent_id, cid, frame.key,
                                        record=audited("supervisor.take_over", cid),
                                        origin=conn, from_agent=frame.get("from_agent"))).ack

    async def resume(frame: Frame) -> dict[str, Any] | None:
        conv = await service.agent_view(agent_id, frame["conversation_id"], holder=False)
        await conn.resume(conv.id, await service.resume_point(conv, frame["after_seq"]))
        return None

    watch = asyncio.create_task(_close_when_session_ends(hub, conn, user["session_id"]),
                                name=f"session:{agent_id}")
    handlers = {"hello": hello, "status": status, "accept": accept, "decline": decline,
                "message": message, "note": note, "typing": typing, "read": read,
                "transfer": transfer, "close": close, "resume": resume, "label": label,
                "whisper": whisper, "take_over": take_over}
    try:
        await receive_loop(websocket, conn, frames.AGENT_FRAMES, handlers, hub.config.limits,
                           greeted=lambda: greeted, errors=service.telemetry.errors)
    finally:
        watch.cancel()
        if greeted and hub.registry.remove_agent(agent_id, conn):
            await service.agent_disconnected(agent_id)
        await conn.wait_closed() if conn.closed else await conn.stop()


async def _close_when_session_ends(hub: Hub, conn: Connection, session_id: str) -> None:
    """Close the console once its login is gone: logged out, expired, a new password, or the
    account disabled (perhaps by `chatserver user disable`, in another process). Else the
    user as stored reaches the live profile: an admin's change made through another process
    (a supervisor demoted stops receiving every chat here too)."""
    while not conn.closed:
        await asyncio.sleep(hub.config.server.session_check_seconds)
        user = await hub.store.session(session_id, hub.service.clock())
        if user is None:
            conn.close(CLOSE_POLICY, "session ended")
        else:
            await hub.service.refresh_profile(user)
