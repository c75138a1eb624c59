"""Every named string a client sends over HTTP under one rule: JSON body fields, query
parameters, form fields and path segments (frames.refused_character, as for socket frames).

Checked at the edge, before any lookup: PostgreSQL's text cannot hold U+0000 (psycopg raises
DataError, a 500 halfway through a handler), scrypt takes a password with trailing NULs for the
password without them (HMAC pads its key with NULs), and logs and terminals mangle the rest.
A field's name stays on one line; its value may keep tab, LF and CR, and each field's own
check is stricter where it must be.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request

from chatserver.core import frames
from chatserver.core.errors import BadFrame, NotFound

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # conversation and visitor ids (frames.CONVERSATION_ID)
# ASCII digits only: str.isdigit() also takes '²' and '٧', which int() refuses or reads.
_DIGITS = re.compile(r"[0-9]{1,20}")
MAX_ROW_ID = 2**53  # the largest integer every JSON client holds exactly (frames._MAX_SEQ)


def refused(fields: Iterable[tuple[str, object]]) -> str | None:
    """What the first field breaking the rule holds, naming it; None when all are clean.
    Values that are not strings (numbers, uploaded files) are left to their own checks."""
    for name, value in fields:
        if problem := frames.refused_character(name, multiline=False):
            return f"field name {name!a} {problem}"  # escaped: sent back as text
        if isinstance(value, str) and (problem := frames.refused_character(value,
                                                                           multiline=True)):
            return f"field '{name}' {problem}"
    return None


def _check(fields: Iterable[tuple[str, object]]) -> None:
    if problem := refused(fields):
        raise BadFrame(problem)


def query(request: Request) -> QueryParams:
    """The query parameters, every one of them clean (400 naming the first that is not)."""
    _check(request.query_params.multi_items())
    return request.query_params


def whole_number(params: QueryParams, name: str, low: int = 1,
                 high: int = MAX_ROW_ID) -> int | None:
    """A query parameter holding a whole number from `low` to `high` (by default a row id),
    None when absent or empty; anything else is a 400 naming it."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise BadFrame(f"{name}: a whole number from {low} to {high}")
    return int(value)


async def form(request: Request) -> FormData:
    """The form fields, every one of them clean (400 naming the first that is not)."""
    fields = await request.form()
    _check(fields.multi_items())
    return fields


def path(request: Request, name: str) -> str:
    """A string path parameter, clean (400 naming it when not)."""
    value = str(request.path_params[name])
    _check([(name, value)])
    return value


def path_id(request: Request, name: str, what: str) -> str:
    """A conversation or visitor id from the path. One not of the ids' shape names nothing:
    a 404 like an unknown id, before any lookup (PostgreSQL's text cannot even hold a NUL)."""
    value = str(request.path_params[name])
    if not _ID.fullmatch(value):
        raise NotFound(f"no such {what}")
    return value


def row_id(request: Request, name: str, what: str) -> int:
    """An `{x:int}` path parameter, which takes any run of digits: outside 1..2**53 it names
    no row, a 404 before SQLite fails to bind it (it holds 64 bits, OverflowError past them)."""
    value = int(request.path_params[name])
    if not 1 <= value <= MAX_ROW_ID:
        raise NotFound(f"no such {what}")
    return value
