"""Search every conversation: `GET /api/search` and the console's page `/console/search`.

Least privilege: supervisors and admins search every conversation; an agent searches the
conversations assigned to them (the ones the transcript API lets them open), whatever the
filters say. Searches are not written to the audit log: a search term is often an e-mail.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatserver.core.errors import BadFrame
from chatserver.core.search_text import BadSearch, parse_filters
from chatserver.store.search import search

from . import http_fields
from .auth import require
from .catalogue import N_
from .openapi import Param, api
from .pages import STAFF, page_user, render

NO_STORE = {"cache-control": "no-store"}
PARAMS = frozenset({"q", "visitor", "agent", "label", "from", "to", "rating", "cursor"})


@api("Search conversations: words, visitor, agent, label, dates, rating", scope="read",
     params=tuple(Param(name, text) for name, text in (
         ("q", "words the conversation holds"), ("visitor", "a visitor's name or e-mail"),
         ("agent", "an agent's id"), ("label", "a label's name"),
         ("from", "first day, YYYY-MM-DD"), ("to", "last day, YYYY-MM-DD"),
         ("rating", "the survey's rating, 1-5"), ("cursor", "the `next` of the previous page"))))
async def search_conversations(request: Request) -> Response:
    """`?q=&visitor=&agent=&label=&from=&to=&rating=&cursor=`: a page of conversations, newest
    first, each with up to 3 snippets as [{"text", "hit"}] segments; 400 for a bad parameter."""
    user = await require(request, *STAFF)
    params = http_fields.query(request)
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise BadFrame(f"{unknown[0]}: not a search parameter")
    try:
        filters = parse_filters(params)
    except BadSearch as error:
        raise BadFrame(str(error)) from None
    only = user["id"] if user["role"] == "agent" else None
    found = await search(request.app.state.hub.store, filters, only_agent=only)
    return JSONResponse(found, headers=NO_STORE)


async def search_page(request: Request) -> Response:
    user = await page_user(request, *STAFF)
    if isinstance(user, Response):
        return user
    return render("search.html", request, user=user, csrf=user["csrf"], title=N_("Search"))


routes = [
    Route("/api/search", search_conversations, methods=["GET"]),
    Route("/console/search", search_page, methods=["GET"]),
]
