"""`/api/openapi.json` (issue 21): generated from the route table, so every API route is in it
and everything in it is a route the server answers; the scopes it states are the ones a token
is checked against."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from chatserver import config
from chatserver.core.api_tokens import SCOPES
from chatserver.web.app import create_app
from chatserver.web.openapi import declared, document

from .harness import Server

METHODS = {"get", "post", "put", "patch", "delete", "options"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("openapi")
    return create_app(config.load(None, {"CHATSERVER_SERVER_SECRET_KEY": "k" * 64,
                                         "CHATSERVER_STORAGE_PATH": str(folder / "chat.db")}))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("live"))
    yield server.start()
    server.stop()


def _path(route: Route) -> str:
    return re.sub(r":\w+}", "}", route.path)


def test_every_api_route_is_documented_with_each_of_its_methods(app: Any) -> None:
    paths = document(app.routes)["paths"]
    api_routes = [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/api/")]
    assert len(api_routes) > 40
    missing = [(_path(r), m) for r in api_routes for m in (r.methods or {"GET"}) - {"HEAD"}
               if m.lower() not in paths.get(_path(r), {})]
    assert missing == []
    for route in api_routes:  # path parameters named and typed as the route converts them
        for method in (route.methods or {"GET"}) - {"HEAD"}:
            op = paths[_path(route)][method.lower()]
            named = {p["name"]: p["schema"]["type"] for p in op["parameters"]
                     if p["in"] == "path"}
            assert set(named) == set(route.param_convertors), route.path
            assert op["summary"] and op["responses"]


def test_the_document_is_openapi_31_and_the_token_routes_state_their_scope(app: Any) -> None:
    doc = document(app.routes)
    assert doc["openapi"] == "3.1.0"
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}
    scoped = {}
    for route in app.routes:
        op = declared(getattr(route, "endpoint", None))
        if op is None or op.scope is None:
            continue
        for method in (route.methods or {"GET"}) - {"HEAD"}:
            entry = doc["paths"][_path(route)][method.lower()]
            assert entry["security"][0] == {"bearer": [op.scope]}
            assert {"401", "403", "429"} <= set(entry["responses"])
            scoped[(_path(route), method)] = op.scope
    assert set(scoped.values()) == set(SCOPES)
    # what the issue asks integrations to be able to do, each with the scope it needs
    for key, scope in {("/api/conversations", "GET"): "read",
                       ("/api/conversations/{conversation_id}/transcript", "GET"): "read",
                       ("/api/conversations/{conversation_id}/messages", "POST"): "write",
                       ("/api/conversations/{conversation_id}/close", "POST"): "write",
                       ("/api/conversations/{conversation_id}/labels", "POST"): "write",
                       ("/api/kb", "POST"): "admin", ("/api/kb/{entry_id}", "PUT"): "admin",
                       ("/admin/reports/conversations.csv", "GET"): "read"}.items():
        assert scoped.get(key) == scope, key
    # token management is for an admin's session only
    assert doc["paths"]["/api/tokens"]["post"]["security"] == [{"session": []}]


def test_every_documented_path_is_a_route_the_live_server_answers(live: Server) -> None:
    answer = httpx.get(live.url + "/api/openapi.json")  # public: no login
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["paths"]["/api/openapi.json"]["get"]["security"] == []
    for path, operations in doc["paths"].items():
        assert set(operations) <= METHODS, path
        concrete = re.sub(r"\{\w+\}", "1", path)
        for method in operations:
            got = httpx.request(method.upper(), live.url + concrete)
            # the router's own refusals: no such path (plain text), no such method
            assert got.status_code != 405, (method, path)
            assert not (got.status_code == 404 and got.text == "Not Found"), (method, path)


def test_the_served_document_is_the_one_the_routes_make(live: Server, app: Any) -> None:
    served = httpx.get(live.url + "/api/openapi.json").json()
    assert served == document(app.routes)


def test_docs_api_md_shows_every_token_route_with_curl(app: Any) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    for route in app.routes:
        op = declared(getattr(route, "endpoint", None))
        if op is not None and op.scope is not None:  # {x} as written or as an example
            pattern = re.sub(r"\\\{\w+\\\}", r"[^/?\"\\s]+", re.escape(_path(route)))
            assert re.search(pattern + r"(?![\w/])", text), _path(route)
    assert text.count("curl ") >= 8
