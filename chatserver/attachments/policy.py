"""What a desk accepts, decided from the bytes alone: the size limit, the allowed types, no
polyglots, images re-encoded; and the file name cleaned for the download it will become.

`accept` is the whole decision: everything refused raises a ChatError naming why (and its HTTP
status), and nothing is stored by the caller unless it returns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from chatserver.core.errors import EmptyFile, Polyglot, ScriptedPdf, TooLarge, UnsupportedType

from . import images
from .sniff import (
    GIF,
    IMAGE_TYPES,
    JPEG,
    PDF,
    PNG,
    SVG,
    TEXT,
    WEBP,
    pdf_script,
    second_type,
    sniff,
)

# Every type the server knows how to keep safe; config's allowed_types is a subset.
HANDLED = frozenset(IMAGE_TYPES | {PDF, TEXT})
# The extension a download of each type gets when its name says something else.
EXTENSIONS = {PNG: ".png", JPEG: ".jpg", GIF: ".gif", WEBP: ".webp", PDF: ".pdf", TEXT: ".txt"}
_ALSO = {JPEG: (".jpeg", ".jpe", ".jfif")}
_KNOWN = frozenset({*EXTENSIONS.values(), *_ALSO[JPEG], ".svg", ".html", ".htm", ".heic"})
# What people call each type in an error message (plural: "PDFs cannot be sent here").
_NAMES = {PNG: "PNG images", JPEG: "JPEG images", GIF: "GIF images", WEBP: "WebP images",
          PDF: "PDFs", TEXT: "plain text files", SVG: "SVG images (they can hold scripts)",
          "text/html": "web pages", "application/xml": "XML documents",
          "image/heic": "HEIC photos (share them as JPEG: most phones convert when sharing)",
          "application/octet-stream": "files of a type we do not recognise"}
# A name is for people: 1-200 characters after cleaning (longer names lose their middle).
MAX_NAME_CHARS = 200
_UNSAFE_IN_NAME = re.compile(
    r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u200e\u200f\u202a-\u202e\u2066-\u2069]')


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    allowed_types: frozenset[str]
    max_pixels: int


@dataclass(frozen=True)
class Accepted:
    """A file as it will be stored and served: images re-encoded, with their thumbnail."""

    name: str
    media_type: str
    data: bytes
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def describe_type(media_type: str) -> str:
    return _NAMES.get(media_type, media_type)


def accept(data: bytes, name: str, limits: Limits) -> Accepted:
    """The file as it will be kept, or a ChatError saying why it is refused."""
    if not data:
        raise EmptyFile("the file is empty")
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the file is larger than the {limits.max_bytes:,} bytes accepted")
    kind = sniff(data)
    if kind not in limits.allowed_types or kind not in HANDLED:
        allowed = ", ".join(describe_type(t) for t in sorted(limits.allowed_types & HANDLED))
        raise UnsupportedType(f"{describe_type(kind)} cannot be sent here; accepted: "
                              f"{allowed}")
    hidden = second_type(data, kind)
    if hidden is not None:
        raise Polyglot(f"this file was refused: {hidden}")
    if kind == PDF and (script := pdf_script(data)) is not None:
        raise ScriptedPdf(f"PDFs that run script cannot be sent here ({script})")
    if kind in IMAGE_TYPES:
        clean = images.reencode(data, kind, limits.max_pixels)
        if len(clean.data) > limits.max_bytes:  # a small GIF can become a large PNG
            raise TooLarge(f"the image is larger than the {limits.max_bytes:,} bytes accepted "
                           f"once re-encoded")
        return Accepted(file_name(name, clean.media_type), clean.media_type, clean.data,
                        clean.width, clean.height, clean.thumbnail)
    return Accepted(file_name(name, kind), kind, data)


def file_name(raw: str, media_type: str) -> str:
    """The name a download is offered under: the last path part, without control or
    direction characters or the ones file systems refuse, ending in the type's extension
    (a wrong one of ours is replaced: "scan.png" holding a PDF becomes "scan.pdf"). Text
    always ends in .txt: "steps.html" is "steps.txt" and "fix.js" "fix.js.txt", never a page
    or script a double-click in the agent's Downloads would run."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_IN_NAME.sub("_", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    extension = f".{extension}".lower() if dot and stem else ""
    stem = stem if extension else name
    wanted = EXTENSIONS[media_type]
    if not extension or extension not in (wanted, *_ALSO.get(media_type, ())):
        if extension and extension not in _KNOWN:  # "v1.2 notes": the dot is the name's
            stem = name
        extension = wanted
    return (stem or "file")[:MAX_NAME_CHARS - len(extension)] + extension
