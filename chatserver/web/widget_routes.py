"""Serves the embeddable widget (`/widget.js`, `/widget/*`) and the `/demo` host page.

The files are plain JavaScript modules and CSS under `widget/`, with no build step: the server
only drops whole-line comments and indentation (they help the code's readers, and would cost
visitors about an eighth of the 15 KB budget), gzips when the browser accepts it, and sets an
ETag so a revisit costs a 304.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .security_headers import policy

WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"

JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
# Only these are served: nothing else in the folder (tests, notes) leaks by accident.
MODULES = {
    "app.js": JS, "reducer.js": JS, "transport.js": JS, "view.js": JS, "i18n.js": JS,
    "widget.css": CSS,
    # A visitor loads one of these, in their language (English is in i18n.js).
    "i18n-fa.js": JS, "i18n-ar.js": JS, "i18n-zh.js": JS,
    # Loaded on first use only (a file attached, or a line with one to show; the survey or the
    # leave-a-message form due).
    "attach.js": JS, "attach.css": CSS, "forms.js": JS,
}
# What a visitor does not load at start: the budget counts the largest language file and
# none of the LAZY ones (tests/test_widget_files.py).
LANGUAGE_FILES = {"i18n-fa.js", "i18n-ar.js", "i18n-zh.js"}
LAZY = {"attach.js", "attach.css", "forms.js"}
# 5 min: the URLs are unversioned and sit in every site's HTML, so a fix must reach visitors
# soon; the ETag makes the revalidation after that a cheap 304.
CACHE = "public, max-age=300"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str


_assets: dict[str, tuple[int, _Asset]] = {}


def lean(text: str) -> str:
    """The source without blank lines, whole-line comments (`// …`, `/* … */`) and indentation.

    Only lines that *start* with a comment go, so nothing inside code or a string is touched;
    the widget's sources keep every multi-line string free of such lines for this reason. A
    line that starts inside a template literal (an odd number of backticks before it) keeps
    its indentation and is never taken for a comment: there it is the string's own text.
    Indentation is a tenth of the sources; gzip leaves about 400 bytes of it (of 15 KB).
    """
    out: list[str] = []
    in_block = False
    ticks = 0
    for line in text.splitlines():
        s = line.strip()
        if ticks % 2:
            out.append(line)
        elif in_block or s.startswith("/*"):
            in_block = not s.endswith("*/")
            continue
        elif s and not s.startswith("//"):
            out.append(s)
        else:
            continue
        ticks += line.count("`")
    return "\n".join(out) + "\n"


_CSS_GAP = re.compile(r"\s*([{};,>])\s*|(:)\s+")


def lean_css(text: str) -> str:
    """lean(), then no space around `{ } ; , >` nor after `:` (about 120 bytes gzipped). No
    such space matters in the widget's stylesheet: its only strings are font names, kept whole
    (a test checks every quoted string comes through unchanged)."""
    return _CSS_GAP.sub(r"\1\2", lean(text))


def _asset(name: str) -> _Asset:
    """The file's bytes, gzipped copy and ETag, re-read when the file changes on disk."""
    path = WIDGET_DIR / name
    mtime = path.stat().st_mtime_ns
    cached = _assets.get(name)
    if cached is None or cached[0] != mtime:
        body = path.read_bytes()
        if path.suffix in (".js", ".css"):
            body = (lean_css if path.suffix == ".css" else lean)(body.decode()).encode()
        asset = _Asset(body, gzip.compress(body, 9, mtime=0),
                       '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
        _assets[name] = cached = (mtime, asset)
    return cached[1]


def _serve(request: Request, name: str, media_type: str, cors: bool) -> Response:
    asset = _asset(name)
    headers = {"Cache-Control": CACHE, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if cors:
        # The modules are imported by the loader from the host site's page: a cross-origin
        # module script needs CORS. They are public files, so any origin may read them.
        headers["Access-Control-Allow-Origin"] = "*"
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=media_type, headers=headers)
    return Response(asset.body, media_type=media_type, headers=headers)


async def loader(request: Request) -> Response:
    return _serve(request, "loader.js", JS, cors=False)


async def module(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in MODULES:
        return Response("not found", status_code=404, media_type="text/plain")
    return _serve(request, name, MODULES[name], cors=True)


# The demo shop's own inline <style> and <script> blocks (attributes would make them not inline).
INLINE = re.compile(rb"<(script|style)>(.*?)</\1>", re.DOTALL)


def demo_policy(html: bytes) -> str:
    """The staff pages' strict policy plus the hashes of the demo page's inline blocks: a shop
    with a careful CSP, under which the widget must work."""
    hashes: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for tag, body in INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        hashes[tag].append(f"'sha256-{digest}'")
    extra = {f"{tag.decode()}_src": " ".join(found) for tag, found in hashes.items() if found}
    return policy(**extra)


async def demo(request: Request) -> Response:
    response = _serve(request, "demo.html", "text/html; charset=utf-8", cors=False)
    response.headers["Content-Security-Policy"] = demo_policy(_asset("demo.html").body)
    return response


routes: list[BaseRoute] = [
    Route("/widget.js", loader, methods=["GET", "HEAD"]),
    Route("/widget/{name}", module, methods=["GET", "HEAD"]),
    Route("/demo", demo, methods=["GET", "HEAD"]),
]
