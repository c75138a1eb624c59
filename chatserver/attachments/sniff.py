"""A file's type decided by its bytes (never its name or the Content-Type it came with), and
whether the bytes hold a second file too: a polyglot, which one program reads as an image and
another as a page, a PDF or an archive.

Each image format is walked to its logical end (PNG's IEND chunk, JPEG's EOI marker after the
last scan, GIF's trailer, the RIFF size of WebP): bytes after it are another file riding along.
"""

from __future__ import annotations

import re
import zlib

PNG, JPEG, GIF, WEBP = "image/png", "image/jpeg", "image/gif", "image/webp"
PDF, TEXT = "application/pdf", "text/plain"
HTML, SVG, XML = "text/html", "image/svg+xml", "application/xml"
UNKNOWN = "application/octet-stream"
IMAGE_TYPES = frozenset({PNG, JPEG, GIF, WEBP})

# Signatures at offset 0; the types we refuse are named too, so the error says what was sent.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x7fELF", "application/x-executable"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)
# How the first characters of a text file announce markup a browser would run.
_MARKUP = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body|<script|<iframe|<svg|<\?xml)",
                     re.IGNORECASE)
# Markup a browser sniffing a file would act on: refused inside the binary types we keep.
_ACTIVE = re.compile(rb"<(script|html|iframe|svg|!doctype\s+html|body|object|embed)\b",
                     re.IGNORECASE)
# Another file's start, wherever it sits in what follows an image: a PDF, a ZIP, a video (an
# MP4/MOV box), markup. A camera's own binary trailer (Samsung phones append one) holds none
# of these and is dropped with the rest of the metadata when the image is re-encoded; so are
# the parts phones add after a JPEG photo (_camera_parts), a motion photo's video among them.
_SIGNATURES = re.compile(rb"%PDF-|PK\x03\x04|PK\x05\x06|ftyp|<(script|html|iframe|svg|"
                         rb"!doctype|body|object|embed|\?xml)", re.IGNORECASE)
# A PDF reader finds "%PDF-" anywhere in the first 1024 bytes; a ZIP reader finds the end of
# central directory record within the last 65,557 bytes (22 + the longest comment).
_PDF_WINDOW = 1024
_ZIP_WINDOW = 65_557
# A motion photo's video starts within this many bytes of the photo's end: at once (Pixel),
# after Samsung's 16-byte "MotionPhoto_Data" marker, or after a little padding.
_VIDEO_START = 64
# PDF JavaScript: the /JS and /JavaScript names (a reader runs them from /OpenAction, a link,
# a form field...), after the #xx escapes names may be spelt with are undone.
_PDF_SCRIPT = re.compile(rb"/(JavaScript|JS)(?=[\s()<>\[\]{}/%]|$)")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
# Object streams (PDF 1.5) pack objects, a script's among them, compressed: at most 16 MiB of
# them is unpacked to look (ordinary ones are kilobytes; more is refused, not skipped).
_PDF_UNPACKED = 16 * 1024 * 1024
# Text: the C0 controls besides tab, line feed, form feed and carriage return mean binary.
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(data: bytes) -> str:
    """The media type the bytes are (UNKNOWN when no type we know of)."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "image/heic" if brand in (b"heic", b"heix", b"mif1", b"msf1") else "video/mp4"
    return _text_kind(data)


def _text_kind(data: bytes) -> str:
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return UNKNOWN
    if _BINARY_CONTROLS.search(text):
        return UNKNOWN
    found = _MARKUP.match(body[:1024])
    if found is None:
        return TEXT
    head = body[:4096].lower()
    if b"<svg" in head:
        return SVG
    return XML if found.group(1).lower() == b"<?xml" else HTML


def logical_end(data: bytes, kind: str) -> int | None:
    """Where the image of type `kind` ends in `data`; None when it is cut short (truncated)."""
    match kind:
        case "image/png":
            return _png_end(data)
        case "image/jpeg":
            return _jpeg_end(data)
        case "image/gif":
            return _gif_end(data)
        case "image/webp":
            size = int.from_bytes(data[4:8], "little")
            end = 8 + size + (size & 1)
            return end if end <= len(data) or end - 1 == len(data) else None
    raise ValueError(f"not an image type: {kind}")


def second_type(data: bytes, kind: str) -> str | None:
    """Why these bytes are also some other file (a polyglot), or None when they are only
    `kind`. `kind` is what `sniff` said.

    Markup is looked for where a browser sniffing the file looks (its first 1024 bytes), not
    in the whole file: 4-5 given bytes turn up by chance in megabytes of compressed image
    data. An image must end where its format says; a PDF at its last %%EOF."""
    head = data[:_PDF_WINDOW]
    if kind != PDF and b"%PDF-" in head[1:]:
        return "a PDF is hidden in it"
    if kind != TEXT and _ACTIVE.search(head):
        return "it holds web page markup"
    if kind in IMAGE_TYPES:
        end = logical_end(data, kind)
        trailer = b"" if end is None else data[end:]
        if trailer.strip(b"\x00\xff\r\n") and not _camera_parts(trailer, kind):
            return f"another file follows the end of the image ({len(trailer):,} bytes)"
    if kind == PDF:
        if b"PK\x05\x06" in data[-_ZIP_WINDOW:]:
            return "a ZIP archive is hidden in it"
        last = data.rfind(b"%%EOF")
        if last < 0 or data[last + 5:].strip():
            return "bytes follow the end of the PDF"
    return None


def _camera_parts(trailer: bytes, kind: str) -> bool:
    """Whether what follows an image is only what cameras add: after a JPEG, the JPEGs of an
    Ultra HDR gain map or a preview (each itself no polyglot) and a motion photo's video (an
    MP4 after EOI as Pixel phones write it, or after Samsung's marker), with no PDF start, markup
    or ZIP directory where a reader of those would look; Samsung's binary SEF records. None of
    it is served: the image is re-encoded."""
    rest = trailer
    if kind == JPEG:
        while rest.lstrip(b"\x00").startswith(b"\xff\xd8\xff"):
            rest = rest.lstrip(b"\x00")
            end = _jpeg_end(rest)
            if end is None or second_type(rest[:end], JPEG) is not None:
                return False
            rest = rest[end:]
        # The video's first box (ftyp), after padding or Samsung's marker.
        box = rest.find(b"ftyp", 4, _VIDEO_START)
        if box >= 4:
            video = rest[box - 4:]
            head = video[:_PDF_WINDOW]
            return not (b"%PDF-" in head or _ACTIVE.search(head)
                        or b"PK\x05\x06" in video[-_ZIP_WINDOW:])
    rest = rest.strip(b"\x00\xff\r\n")
    return not rest or (sniff(rest) == UNKNOWN and not _SIGNATURES.search(rest))


def pdf_script(data: bytes) -> str | None:
    """Why this PDF would run JavaScript in a reader, or None. Looked for outside streams
    (megabytes of compressed pages hold any three bytes by chance) and inside the object
    streams objects may be packed in (FlateDecode ones; others are not unpacked)."""
    parts, pos, budget = [], 0, _PDF_UNPACKED
    for found in _PDF_STREAM.finditer(data):
        if found.start() < pos:
            continue  # "stream" inside a stream skipped
        before = data[pos:found.start()]
        parts.append(before)
        close = data.find(b"endstream", found.end())
        close = len(data) if close < 0 else close
        header = _PDF_NAME_ESCAPE.sub(_unescaped, before[before.rfind(b"obj"):])
        if b"/ObjStm" in header and b"/FlateDecode" in header:
            unpack = zlib.decompressobj()
            try:
                parts.append(unpack.decompress(data[found.end():close], budget + 1))
            except zlib.error:
                pass  # a reader cannot unpack it either
            else:
                budget -= len(parts[-1])
                if budget < 0:
                    return "its packed objects are too large to check"
        pos = close + len(b"endstream")
    parts.append(data[pos:])
    if _PDF_SCRIPT.search(_PDF_NAME_ESCAPE.sub(_unescaped, b"\n".join(parts))):
        return "it holds JavaScript"
    return None


def _unescaped(escape: re.Match[bytes]) -> bytes:
    return bytes([int(escape.group(1), 16)])


def _png_end(data: bytes) -> int | None:
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        chunk = data[pos + 4:pos + 8]
        pos += 12 + length
        if chunk == b"IEND":
            return pos if pos <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    pos, n = 2, len(data)
    while pos + 1 < n:
        if data[pos] != 0xFF:
            return None  # not at a marker: the file is damaged
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            return pos + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if pos + 4 > n:
            return None
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    return None
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2  # a stuffed 0xFF byte or a restart marker: still the scan
                    continue
                if following == 0xFF:
                    pos += 1
                    continue
                break
    return None


def _gif_end(data: bytes) -> int | None:
    n = len(data)
    if n < 13:
        return None
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)  # global colour table
    while pos < n:
        block = data[pos]
        if block == 0x3B:  # trailer
            return pos + 1
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image: descriptor, local colour table, LZW size, sub-blocks
            if pos + 10 > n:
                return None
            local = data[pos + 9]
            pos += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            pos = _sub_blocks(data, pos + 1)
        else:
            return None
        if pos < 0:
            return None
    return None


def _sub_blocks(data: bytes, pos: int) -> int:
    """The position after a chain of GIF sub-blocks (-1 when it runs off the end)."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return -1
