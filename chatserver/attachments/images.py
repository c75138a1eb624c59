"""Images made safe to show: decoded with Pillow and encoded afresh, so that what is served is
pixels only. EXIF (a phone photo's GPS position, camera serial), XMP, ICC profiles, comments
and text chunks are not copied; the EXIF orientation is applied to the pixels first, so a
portrait photo stays upright without its tag. A small WebP thumbnail goes with it.

Decompression bombs are refused from the header's size before any pixel is decoded. Only the
first frame of an animated GIF or WebP is kept: one still image, no frame-count bombs.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from chatserver.core.errors import DamagedFile, TooManyPixels

from .sniff import GIF, JPEG, PNG, WEBP

# Pillow's format name for each type we decode (open() is told to try that one only).
_FORMAT = {PNG: "PNG", JPEG: "JPEG", GIF: "GIF", WEBP: "WEBP"}
# What each is re-encoded as: a GIF's first frame becomes a PNG (lossless, no palette limit).
_OUTPUT = {PNG: PNG, JPEG: JPEG, GIF: PNG, WEBP: WEBP}
# 320 px: two console columns on a retina screen; a thumbnail is a few kB.
THUMBNAIL_PX = 320
# JPEG 88 / WebP 85: indistinguishable from the source at screen size, about half its bytes.
JPEG_QUALITY = 88
WEBP_QUALITY = 85
THUMBNAIL_QUALITY = 75
# Our own limit (`max_pixels`, at most 89 million) is checked from the header before any pixel
# is decoded, so Pillow's guard is switched off: above its 89 million pixels it would log a
# DecompressionBombWarning for every stranger's bomb (noise), or raise before our message.
Image.MAX_IMAGE_PIXELS = None
# Damaged EXIF (a tag past the file's end...) is skipped with a UserWarning per tag: the image
# is still kept, without that tag, and a stranger's broken file is no line in our log.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
# What Pillow can tell us went wrong while reading a file it was promised was this format.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, UnidentifiedImageError)


@dataclass(frozen=True)
class Clean:
    """An image encoded afresh: its bytes and type, size in pixels, and thumbnail (WebP)."""

    data: bytes
    media_type: str
    width: int
    height: int
    thumbnail: bytes


def reencode(data: bytes, media_type: str, max_pixels: int) -> Clean:
    """The image as fresh pixels only; DamagedFile or TooManyPixels when it cannot be."""
    try:
        with Image.open(io.BytesIO(data), formats=[_FORMAT[media_type]]) as source:
            width, height = source.size
            if width * height > max_pixels:
                raise TooManyPixels(f"the image is {width}×{height} pixels; at most "
                                    f"{max_pixels:,} are accepted")
            source.seek(0)
            source.load()
            upright = ImageOps.exif_transpose(source)
            pixels = _plain(upright)
    except TooManyPixels:
        raise
    except _DECODE_ERRORS as error:
        raise DamagedFile(f"the image could not be read ({_reason(error)})") from None
    output = _OUTPUT[media_type]
    return Clean(_encode(pixels, output), output, pixels.width, pixels.height,
                 _thumbnail(pixels))


def _plain(image: Image.Image) -> Image.Image:
    """A new image holding the pixels alone, in RGB or RGBA (or L for greyscale)."""
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if alpha else "L" if image.mode in ("1", "L", "I;16", "I") else "RGB"
    if image.mode in ("I;16", "I"):  # 16-bit greyscale: scale to 8 bits before L
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    plain = image.convert(mode)
    plain.info.clear()  # convert() may carry info (an ICC profile, text) along: drop it all
    return plain


def _encode(image: Image.Image, media_type: str) -> bytes:
    out = io.BytesIO()
    if media_type == JPEG:
        rgb = image.convert("RGB") if image.mode == "RGBA" else image
        rgb.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif media_type == WEBP:
        image.save(out, "WEBP", quality=WEBP_QUALITY)
    else:
        image.save(out, "PNG", optimize=image.width * image.height <= 4_000_000)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    small.save(out, "WEBP", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def _reason(error: BaseException) -> str:
    text = str(error).split("\n")[0][:120]
    if "truncated" in text or isinstance(error, EOFError):
        return "it is cut short"
    return text or type(error).__name__
