"""One exception tree for everything a client can get wrong, mapped to wire codes in one place.

Raise these from any layer; the edges turn them into an `error` frame (socket stays open),
a close code (only for abuse) or an HTTP status.
"""

from __future__ import annotations


class ChatError(Exception):
    """A request we refuse; `code` is the protocol's error code."""

    code = "bad_frame"
    http_status = 400

    def __init__(self, message: str, *, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.frame_id = frame_id


class BadJSON(ChatError):
    code = "bad_json"


class BadFrame(ChatError):
    code = "bad_frame"


class UnknownType(ChatError):
    code = "unknown_type"


class TooLarge(ChatError):
    code = "too_large"
    http_status = 413


class RateLimited(ChatError):
    code = "rate_limited"
    http_status = 429


class NotFound(ChatError):
    code = "not_found"
    http_status = 404


class Forbidden(ChatError):
    code = "forbidden"
    http_status = 403


class PasswordChangeRequired(Forbidden):
    """Logged in with a one-time password: only the account page until a new one is set."""

    code = "password_change_required"


class ConsentRequired(Forbidden):
    """A visitor's upload before they accepted the privacy notice: it may wait and go once
    they do, unlike a refusal for good (the widget tells the two apart)."""

    code = "consent_required"


class Conflict(ChatError):
    code = "conflict"
    http_status = 409


class Unauthorized(ChatError):
    code = "unauthorized"
    http_status = 401


class Unavailable(ChatError):
    """The service cannot take this now (e.g. storage unreachable); retry later."""

    code = "unavailable"
    http_status = 503


class UnsupportedType(ChatError):
    """A file whose bytes are of a type the desk does not accept (SVG, HTML, unknown...)."""

    code = "unsupported_type"
    http_status = 415


class Polyglot(ChatError):
    """A file whose bytes are two types at once (a PDF or ZIP appended to an image...)."""

    code = "polyglot"
    http_status = 415


class ScriptedPdf(UnsupportedType):
    """A PDF that runs JavaScript (an /OpenAction, a form's actions...): a reader would run it
    on the agent's machine."""

    code = "pdf_script"


class DamagedFile(ChatError):
    """A file of an accepted type that cannot be read: truncated or undecodable."""

    code = "damaged_file"
    http_status = 422


class TooManyPixels(ChatError):
    """An image too large in pixels to decode safely (a decompression bomb)."""

    code = "too_many_pixels"
    http_status = 422


class EmptyFile(ChatError):
    code = "empty_file"
    http_status = 422


# WebSocket close codes, used only when the socket must go (RFC 6455 section 7.4.1).
CLOSE_POLICY = 1008  # flood, failed auth, hello never sent
CLOSE_TOO_BIG = 1009  # frame over the hard size limit
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_TRY_AGAIN = 1013  # overloaded: a slow client whose send queue filled up


def error_frame(error: ChatError) -> dict[str, object]:
    frame: dict[str, object] = {"type": "error", "code": error.code, "message": error.message}
    if error.frame_id is not None:
        frame["id"] = error.frame_id
    return frame
