"""Images made safe to show: decoded with Pillow and encoded afresh, so that what is served is
pixels only. EXIF (a phone photo's GPS position, camera serial), XMP, ICC profiles, comments
and text chunks are not copied; the EXIF orientation is applied to the pixels first, so a
portrait photo stays upright without its tag. A small WebP thumbnail goes with it.

Decompression bombs are refused from the header's size before any pixel is decoded. Only the
first frame of an animated GIF or WebP is kept: one still image, no frame-count bombs. What is
served is at most MAX_SIDE pixels on its longest side (larger images are scaled down), and the
decoded pixels are held once: a JPEG larger than that is decoded at a reduced scale (draft),
the orientation is applied in place, the mode converted only when it differs, and the
thumbnail made from the scaled image.
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
# 4096 px: a 4K screen's width, the longest side served (a 12 MP phone photo, 4000 × 3000,
# passes unchanged); a larger image is scaled down rather than refused.
MAX_SIDE = 4096
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
            if media_type == JPEG and max(width, height) > MAX_SIDE:
                # Decoded at 1/2, 1/4 or 1/8 scale while that keeps at least 3/4 of
                # MAX_SIDE: an 8000 × 6000 photo is decoded (and served) at 4000 × 3000.
                source.draft(None, _contained(width, height, MAX_SIDE * 3 // 4))
            source.load()
            pixels = _plain(source)
            ImageOps.exif_transpose(pixels, in_place=True)
            pixels.info.clear()  # an ICC profile, text, EXIF: none of it is served
            if max(pixels.size) > MAX_SIDE:
                pixels.thumbnail((MAX_SIDE, MAX_SIDE))
            # Encoded inside: closing the source frees its pixels, which `pixels` may be.
            output = _OUTPUT[media_type]
            return Clean(_encode(pixels, output), output, pixels.width, pixels.height,
                         _thumbnail(pixels))
    except TooManyPixels:
        raise
    except _DECODE_ERRORS as error:
        raise DamagedFile(f"the image could not be read ({_reason(error)})") from None


def _contained(width: int, height: int, side: int) -> tuple[int, int]:
    """The size of a width × height image scaled to fit a side × side square."""
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _plain(image: Image.Image) -> Image.Image:
    """The pixels in RGB or RGBA (or L for greyscale): the image itself when it is in one of
    those already (no copy of a large image), else a converted one."""
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if alpha else "L" if image.mode in ("1", "L", "I;16", "I") else "RGB"
    if image.mode in ("I;16", "I"):  # 16-bit greyscale: scale to 8 bits before L
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return image if image.mode == mode else image.convert(mode)


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
    small = image  # resized, not copied first: the full image is held once
    if max(image.size) > THUMBNAIL_PX:
        small = image.resize(_contained(image.width, image.height, THUMBNAIL_PX),
                             Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    small.save(out, "WEBP", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def _reason(error: BaseException) -> str:
    text = str(error).split("\n")[0][:120]
    if "truncated" in text or isinstance(error, EOFError):
        return "it is cut short"
    return text or type(error).__name__
