"""Wire frames: parsed and validated at the edge, serialized in one place.

Each frame type a client may send is declared once as a table of fields; `parse` checks a raw
frame against it and returns a `Frame` whose fields are known to be present and well-typed, so
nothing past the edge re-checks input. Errors name the field and keep the client's `id`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import json_text
from .errors import BadFrame, BadJSON, TooLarge, UnknownType

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
_SKILL = re.compile(r"[a-z0-9_:-]{1,40}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")

# One rule for every string a client sends (docs/protocol.md, "Errors"): refused, naming the
# field, when it holds a lone UTF-16 surrogate (JSON may write "\ud83d" alone, as JSON.stringify
# does for an emoji cut in half, but no UTF-8 store or socket can carry it) or a control
# character: C0, DEL or C1, which nobody types and which NUL-terminated APIs, terminals and
# log viewers mangle. Multi-line fields (chat text, comments, notes) keep tab, LF and CR.
_REFUSED_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REFUSED_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The top-level "id" of a frame that cannot be parsed, so its error still names it: strings
# and brackets are tokens, and only an "id" key at depth 1 counts (not one nested in "text").
# A string runs possessively to its closing quote or the end of the text, so the scan stays
# linear even on '"\"\"\"…' (with backtracking each quote would rescan the rest).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_ID_VALUE = re.compile(r'\s*:\s*"([A-Za-z0-9_-]{1,64})"')


@dataclass(frozen=True)
class Frame:
    """A validated client frame: `type`, the client's `id` when it has one, and its fields."""

    type: str
    id: str | None
    fields: Mapping[str, Any]

    @property
    def key(self) -> str:
        """The client's id of a changing frame: its spec requires one, so it is there."""
        if self.id is None:
            raise BadFrame("field 'id' is required")
        return self.id

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


@dataclass(frozen=True)
class Limits:
    max_text_chars: int


Check = Callable[[Any, str, Limits], Any]


def refused_character(value: str, *, multiline: bool) -> str | None:
    """What in `value` no client may send (see the rule above), or None when it is clean."""
    found = (_REFUSED_IN_TEXT if multiline else _REFUSED_IN_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    what = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"contains {what} (U+{ord(char):04X} at position {found.start()})"


def _string(pattern: re.Pattern[str] | None = None, max_len: int = 200, what: str = "",
            multiline: bool = False) -> Check:
    def check(value: Any, name: str, limits: Limits) -> str:
        if not isinstance(value, str):
            raise BadFrame(f"field '{name}' must be a string")
        if len(value) > max_len:
            raise BadFrame(f"field '{name}' is longer than {max_len} characters")
        if problem := refused_character(value, multiline=multiline):
            raise BadFrame(f"field '{name}' {problem}")
        if pattern is not None and not pattern.fullmatch(value):
            raise BadFrame(f"field '{name}' must be {what}")
        return value

    return check


def _text(value: Any, name: str, limits: Limits) -> str:
    """Chat text: any Unicode, never interpreted as markup; blank is refused, long is too_large."""
    if not isinstance(value, str):
        raise BadFrame(f"field '{name}' must be a string")
    if not value.strip():
        raise BadFrame(f"field '{name}' must not be empty")
    if len(value) > limits.max_text_chars:
        raise TooLarge(f"field '{name}' is longer than {limits.max_text_chars} characters")
    if problem := refused_character(value, multiline=True):
        raise BadFrame(f"field '{name}' {problem}")
    return value


def _integer(low: int, high: int) -> Check:
    def check(value: Any, name: str, limits: Limits) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadFrame(f"field '{name}' must be an integer")
        if not low <= value <= high:
            raise BadFrame(f"field '{name}' must be between {low} and {high}")
        return value

    return check


def _boolean(value: Any, name: str, limits: Limits) -> bool:
    if not isinstance(value, bool):
        raise BadFrame(f"field '{name}' must be true or false")
    return value


def _one_of(*choices: str) -> Check:
    def check(value: Any, name: str, limits: Limits) -> str:
        if value not in choices:
            raise BadFrame(f"field '{name}' must be one of: {', '.join(choices)}")
        return str(value)

    return check


_MAX_SEQ = 2**53  # the largest integer every JSON client can hold exactly

CLIENT_ID = _string(_CLIENT_ID, 64, "a UUID or similar id of 1-64 letters, digits, - or _")
CONVERSATION_ID = _string(_CONVERSATION_ID, 64, "a conversation id")
SEQ = _integer(0, _MAX_SEQ)
NAME = _string(max_len=100)
EMAIL = _string(_EMAIL, 254, "an email address")
LANGUAGE = _string(_LANGUAGE, 35, "a BCP-47 language tag such as 'en' or 'fa-IR'")
SKILL = _string(_SKILL, 40, "a skill name such as 'billing' or 'lang:fa'")
URL = _string(max_len=2048)
TOPIC = _string(max_len=60)
TOKEN = _string(max_len=200)
COMMENT = _string(max_len=2000, multiline=True)
EXTERNAL_ID = _string(re.compile(r".*\S.*"), 200, "the site's user id, not blank")
# The site's signature of the id: checked against the secret, not here, so a malformed one
# is only a wrong one (unverified, never an error that tells a guesser anything).
IDENTITY_HASH = _string(max_len=128)
IDENTITY: Spec = {
    "id": (EXTERNAL_ID, True),
    "name": (NAME, False),
    "email": (EMAIL, False),
    "hash": (IDENTITY_HASH, False),
}


def _identity(value: Any, name: str, limits: Limits) -> dict[str, Any]:
    """`hello.identity`: the site's user {id, name?, email?, hash?}, each field checked as the
    identify frame's are, an error naming it as `identity.<field>`."""
    if not isinstance(value, dict):
        raise BadFrame(f"field '{name}' must be an object")
    return _fields(value, IDENTITY, limits, prefix=f"{name}.")


# type -> {field: (check, required)}. A changing frame always carries "id" (see PROTOCOL.md).
Spec = Mapping[str, tuple[Check, bool]]

VISITOR_FRAMES: Mapping[str, Spec] = {
    "hello": {
        "visitor_token": (TOKEN, False),
        "name": (NAME, False),
        "email": (EMAIL, False),
        "language": (LANGUAGE, False),
        "page_url": (URL, False),
        "topic": (TOPIC, False),
        "identity": (_identity, False),
    },
    "message": {"id": (CLIENT_ID, True), "text": (_text, True)},
    "typing": {"on": (_boolean, True)},
    "read": {"seq": (SEQ, True)},
    "choose": {"id": (CLIENT_ID, True), "entry_id": (_integer(1, _MAX_SEQ), True)},
    "request_human": {"id": (CLIENT_ID, True)},
    "resume": {"conversation_id": (CONVERSATION_ID, True), "after_seq": (SEQ, True)},
    "survey": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, False),
        "rating": (_integer(1, 5), True),
        "nps": (_integer(0, 10), False),
        "comment": (COMMENT, False),
    },
    "close": {"id": (CLIENT_ID, True)},
    "offline_message": {"id": (CLIENT_ID, True), "email": (EMAIL, True), "text": (_text, True)},
    "consent": {"id": (CLIENT_ID, True)},
    # The page logged its user in after hello (docs/protocol.md, "Verified identity").
    "identify": {"id": (CLIENT_ID, True), "identity": (_identity, True)},
}

AGENT_FRAMES: Mapping[str, Spec] = {
    "hello": {},
    "status": {"status": (_one_of("online", "away", "offline"), True)},
    "accept": {"id": (CLIENT_ID, True), "conversation_id": (CONVERSATION_ID, True)},
    "decline": {"id": (CLIENT_ID, True), "conversation_id": (CONVERSATION_ID, True)},
    "message": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "text": (_text, True),
        # The knowledge-base entry the text came from (agent-assist Insert, a linked canned
        # response): the visitor's question becomes a proposed phrasing of it (learning.py).
        "entry_id": (_integer(1, _MAX_SEQ), False),
    },
    "note": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "text": (_text, True),
    },
    "typing": {"conversation_id": (CONVERSATION_ID, True), "on": (_boolean, True)},
    "read": {"conversation_id": (CONVERSATION_ID, True), "seq": (SEQ, True)},
    "transfer": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "to_agent": (_integer(1, _MAX_SEQ), False),
        "to_skill": (SKILL, False),
        "note": (COMMENT, False),
    },
    "close": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "resolved": (_boolean, True),
        "entry_id": (_integer(1, _MAX_SEQ), False),  # the entry that answered the visitor
    },
    "resume": {"conversation_id": (CONVERSATION_ID, True), "after_seq": (SEQ, True)},
    # Put a label (from the list admins keep, /api/labels) on a chat, or take it off.
    "label": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "label_id": (_integer(1, _MAX_SEQ), True),
        "on": (_boolean, True),
    },
    # Supervisors and admins: a note only the agent holding the chat sees, and taking the
    # chat over (docs/protocol.md, "Whisper and take-over").
    "whisper": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "text": (_text, True),
    },
    # `from_agent`: the agent the supervisor saw holding the chat; taken only from them.
    "take_over": {
        "id": (CLIENT_ID, True),
        "conversation_id": (CONVERSATION_ID, True),
        "from_agent": (_integer(1, _MAX_SEQ), False),
    },
}


def parse(raw: str | bytes, table: Mapping[str, Spec], limits: Limits) -> Frame:
    """Decode one client frame and validate it against `table`, or raise a ChatError."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadFrame("frames must be UTF-8 encoded JSON text") from None
    try:
        obj = json_text.loads(raw)
    except ValueError:
        raise BadJSON("frame is not valid JSON", frame_id=_top_level_id(raw)) from None
    except RecursionError:  # thousands of brackets: the parser runs out of stack
        raise BadJSON("frame is nested too deeply", frame_id=_top_level_id(raw)) from None
    if not isinstance(obj, dict):
        raise BadFrame("frame must be a JSON object")
    raw_id = obj.get("id")
    frame_id = raw_id if isinstance(raw_id, str) and _CLIENT_ID.fullmatch(raw_id) else None
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise BadFrame("field 'type' is required and must be a string", frame_id=frame_id)
    spec = table.get(kind)
    if spec is None:
        raise UnknownType(f"unknown frame type {kind[:40]!r}", frame_id=frame_id)
    try:
        fields = _fields(obj, spec, limits)
    except (BadFrame, TooLarge) as e:
        e.frame_id = frame_id
        raise
    return Frame(kind, fields.get("id"), fields)


def _fields(obj: Mapping[str, Any], spec: Spec, limits: Limits,
            prefix: str = "") -> dict[str, Any]:
    """The fields `spec` names, each checked; others are ignored (the protocol may grow)."""
    fields: dict[str, Any] = {}
    for name, (check, required) in spec.items():
        if name not in obj or (obj[name] is None and not required):
            if required:
                raise BadFrame(f"field '{prefix}{name}' is required")
            continue
        fields[name] = check(obj[name], prefix + name, limits)
    return fields


def _top_level_id(raw: str) -> str | None:
    """The frame's own "id" read from text json.loads refused; linear, no recursion."""
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        text = token.group()
        if text in ("[", "{"):
            depth += 1
        elif text in ("]", "}"):
            depth -= 1
        elif depth == 1 and text == '"id"' and (value := _ID_VALUE.match(raw, token.end())):
            return value.group(1)
    return None


def encode(frame: Mapping[str, Any]) -> str:
    """The one place frames become text: compact, UTF-8 kept readable (no \\u escapes)."""
    return json_text.dumps(frame)
