"""The OpenAPI 3.1 document at `/api/openapi.json`, generated from the route table.

Each handler may carry a declaration (`@api(...)`, kept next to it) of its query parameters,
body, responses and the token scope it takes; paths, methods and path parameters come from
the routes themselves, so the document cannot list a path the server does not have, and a
route without a declaration is still listed (its docstring's first line as its summary).
The scope declared here is also what `Authorization: Bearer` is checked against (bearer.py):
a route without one takes the session cookie only.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatserver.core.api_tokens import SCOPES

F = TypeVar("F", bound=Callable[..., Any])
VERSION = "1"
ERROR = {"$ref": "#/components/schemas/Error"}
OBJECT: dict[str, Any] = {"type": "object"}
CSV = "text/csv"
# What every route may answer besides its own; a token route adds its own refusals.
COMMON = {400: "A parameter or field is not valid (named in the answer)",
          404: "No such record, or not one this caller may see"}
VISITOR_PATHS = ("/api/visitor/", "/api/attachments/")  # a visitor token or a signed link
TOKEN_REFUSALS = {401: "No session and no valid token (revoked, unknown or malformed)",
                  403: "The token lacks the scope this route needs, or the role may not",
                  429: "The token's rate limit: wait the Retry-After seconds"}


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """What one handler declares about itself."""

    summary: str
    scope: str | None = None  # the token scope it takes; None: the session cookie only
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None  # JSON schema of the request body
    body_type: str = "application/json"
    response: Mapping[str, Any] | None = None  # JSON schema of the success body
    response_type: str = "application/json"
    status: int = 200
    responses: Mapping[int, str] = field(default_factory=dict)  # other statuses it answers
    public: bool = False  # needs no login at all

    def __post_init__(self) -> None:
        if self.scope is not None and self.scope not in SCOPES:
            raise ValueError(f"scope {self.scope!r} is not one of {SCOPES}")


def api(summary: str, **declared: Any) -> Callable[[F], F]:
    """Declare a handler's API contract (see Operation's fields)."""
    operation = Operation(summary, **declared)

    def mark(handler: F) -> F:
        handler.__api__ = operation  # type: ignore[attr-defined]
        return handler

    return mark


def declared(endpoint: object) -> Operation | None:
    found = getattr(endpoint, "__api__", None)
    return found if isinstance(found, Operation) else None


def documented(route: BaseRoute) -> bool:
    """The API's routes, and any other that declares itself (the reports' CSV downloads)."""
    return isinstance(route, Route) and (route.path.startswith("/api/")
                                         or declared(route.endpoint) is not None)


def _path_params(route: Route) -> list[dict[str, Any]]:
    out = []
    for name, convertor in route.param_convertors.items():
        kind = ("integer" if isinstance(convertor, IntegerConvertor) else
                "number" if isinstance(convertor, FloatConvertor) else "string")
        out.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    return out


def _operation(route: Route, method: str, path: str) -> dict[str, Any]:
    op = declared(route.endpoint)
    doc = (inspect.getdoc(route.endpoint) or "").strip().splitlines()
    summary = op.summary if op is not None else (doc[0] if doc else route.name)
    # Unique per operation (one handler may serve two paths or methods): method and path.
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    out: dict[str, Any] = {"operationId": f"{method.lower()}_{slug}", "summary": summary,
                           "parameters": _path_params(route)}
    if len(doc) > 1:
        out["description"] = " ".join(line.strip() for line in doc)
    statuses: dict[int, str] = dict(COMMON)
    success: dict[str, Any] = {"description": "Done"}
    if op is None and route.path.startswith(VISITOR_PATHS):
        out["security"] = []  # the widget's: a visitor token or signed link (docs/widget.md)
    elif op is None:
        out["security"] = [{"session": []}]
        statuses[401] = "Not logged in"
        statuses[403] = "Your role may not do this, or the CSRF token is missing"
    else:
        out["parameters"] += [{"name": p.name, "in": "query", "required": p.required,
                               "description": p.description, "schema": dict(p.schema)}
                              for p in op.params]
        if op.body is not None:
            out["requestBody"] = {"required": True,
                                  "content": {op.body_type: {"schema": dict(op.body)}}}
        if op.response is not None or op.response_type != "application/json":
            success["content"] = {op.response_type: {"schema": dict(op.response or OBJECT)}}
        out["security"] = ([] if op.public else [{"bearer": [op.scope]}, {"session": []}]
                           if op.scope else [{"session": []}])
        if op.scope:
            out["x-token-scope"] = op.scope
        if not op.public:
            statuses.update(TOKEN_REFUSALS)
        statuses.update(op.responses)
    responses: dict[str, Any] = {str(op.status if op else 200): success}
    for status, text in sorted(statuses.items()):
        responses[str(status)] = {"description": text, "content": {
            "application/json": {"schema": ERROR}}}
    out["responses"] = responses
    return out


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of these routes (only the documented ones: see `documented`)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not documented(route):
            continue
        assert isinstance(route, Route)
        path = route.path.replace(":int}", "}").replace(":float}", "}").replace(":path}", "}")
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(route, method, path)
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatserver", "version": VERSION,
                 "description": "The REST API of the chat server. Integrations send "
                 "`Authorization: Bearer <token>` (tokens are made by admins on /admin/tokens, "
                 "each with the scopes read, write and admin); the staff pages use the session "
                 "cookie and, for changes, the X-CSRF-Token header. See docs/api.md."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API token: cst_<id>_<secret>"},
                "session": {"type": "apiKey", "in": "cookie", "name": "chat_session"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "message"],
                                  "properties": {"error": {"type": "string"},
                                                 "message": {"type": "string"},
                                                 "field": {"type": "string"}}}}},
    }


@api("This document (OpenAPI 3.1)", public=True)
async def openapi_json(request: Request) -> Response:
    """This document: public, like the source it is generated from."""
    return JSONResponse(document(request.app.routes))
