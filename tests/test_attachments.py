"""The attachment policy as a pure function: bytes in, a kept file or a refusal out.

Images are made with Pillow here, so every case is a real file: a phone photo with GPS EXIF, a
decompression bomb, a truncated PNG, polyglots (a PDF or ZIP after the image, HTML at its
head, a PDF behind a web page), SVG, empty and oversize files."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

import pytest
from PIL import Image

from chatserver import config as config_module
from chatserver.attachments import policy, sniff
from chatserver.attachments.policy import Limits, accept, file_name
from chatserver.core.errors import (
    DamagedFile,
    EmptyFile,
    Polyglot,
    ScriptedPdf,
    TooLarge,
    TooManyPixels,
    UnsupportedType,
)

LIMITS = Limits(max_bytes=10 * 1024 * 1024, allowed_types=policy.HANDLED,
                max_pixels=50_000_000)
GPS_IFD = 0x8825


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), mode: str = "RGB",
                **save: object) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def phone_photo(orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: GPS position, camera make, orientation tag."""
    image = Image.new("RGB", (60, 20), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 2.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"shot at home")
    return out.getvalue()


SIMPLE_PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
              b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
              b"trailer << /Root 1 0 R >>\n%%EOF\n")


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("evil.html", "<script>alert(1)</script>")
    return out.getvalue()


# --- sniffing: the bytes decide ---------------------------------------------------------------

@pytest.mark.parametrize(("data", "kind"), [
    (image_bytes("PNG"), "image/png"),
    (image_bytes("JPEG"), "image/jpeg"),
    (image_bytes("GIF", mode="L"), "image/gif"),
    (image_bytes("WEBP"), "image/webp"),
    (SIMPLE_PDF, "application/pdf"),
    ("سلام، این یک فایل متنی است\n你好\n".encode(), "text/plain"),
    (b"\xef\xbb\xbfwith a BOM\r\n", "text/plain"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    (b"<svg onload=alert(1)>", "image/svg+xml"),
    (b"  <!DOCTYPE html><p>hi", "text/html"),
    (zip_bytes(), "application/zip"),
    (b"\x00\x01\x02binary", "application/octet-stream"),
    (b"\xff\xfe not utf-8 \xc3", "application/octet-stream"),
])
def test_the_type_is_decided_by_the_bytes(data: bytes, kind: str) -> None:
    assert sniff.sniff(data) == kind


def test_a_name_claiming_png_with_pdf_bytes_is_a_pdf() -> None:
    kept = accept(SIMPLE_PDF, "scan.png", LIMITS)
    assert kept.media_type == "application/pdf"
    assert kept.name == "scan.pdf"
    assert kept.data == SIMPLE_PDF


# --- images are re-encoded: metadata gone, orientation applied -------------------------------

def test_gps_exif_is_gone_after_re_encoding() -> None:
    photo = phone_photo()
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS_IFD)  # the test file has GPS
    kept = accept(photo, "IMG_0001.JPG", LIMITS)
    assert kept.media_type == "image/jpeg"
    assert (kept.width, kept.height) == (60, 20)
    again = Image.open(io.BytesIO(kept.data))
    assert not again.getexif()
    assert "exif" not in again.info and "comment" not in again.info
    assert b"Exif" not in kept.data and b"PhoneMaker" not in kept.data
    assert b"shot at home" not in kept.data


def test_orientation_is_applied_before_the_tag_goes() -> None:
    kept = accept(phone_photo(orientation=6), "portrait.jpg", LIMITS)  # rotate 90° on show
    assert (kept.width, kept.height) == (20, 60)
    assert Image.open(io.BytesIO(kept.data)).size == (20, 60)


def test_png_text_and_icc_chunks_are_gone() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location")
    raw = image_bytes("PNG", pnginfo=info, icc_profile=b"\x00" * 128)
    assert b"secret location" in raw
    kept = accept(raw, "shot.png", LIMITS)
    assert b"secret location" not in kept.data and b"iCCP" not in kept.data
    assert kept.media_type == "image/png"


def test_a_thumbnail_comes_with_each_image() -> None:
    kept = accept(image_bytes("PNG", size=(1200, 600)), "wide.png", LIMITS)
    assert kept.thumbnail is not None
    thumb = Image.open(io.BytesIO(kept.thumbnail))
    assert thumb.format == "WEBP" and thumb.size == (320, 160)


def test_a_gif_keeps_its_first_frame_as_png() -> None:
    frames = [Image.new("P", (10, 10), i) for i in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    kept = accept(out.getvalue(), "anim.gif", LIMITS)
    assert kept.media_type == "image/png" and kept.name == "anim.png"
    assert getattr(Image.open(io.BytesIO(kept.data)), "n_frames", 1) == 1


def test_transparency_is_kept() -> None:
    kept = accept(image_bytes("PNG", mode="RGBA"), "a.png", LIMITS)
    assert Image.open(io.BytesIO(kept.data)).mode == "RGBA"


# --- refusals ---------------------------------------------------------------------------------

def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    # 8,000 × 8,000 of one colour: 64 million pixels (192 MB decoded) in a few kB.
    bomb = image_bytes("PNG", size=(8_000, 8_000), mode="L")
    assert len(bomb) < 200_000
    with pytest.raises(TooManyPixels) as refused:
        accept(bomb, "bomb.png", LIMITS)
    assert refused.value.http_status == 422 and "8000×8000" in refused.value.message


def test_a_bomb_beyond_pillows_own_limit_is_refused_too() -> None:
    # A PNG header claiming 60,000 × 60,000: Pillow itself would refuse to open it.
    bomb = bytearray(image_bytes("PNG", size=(1, 1)))
    bomb[16:24] = (60_000).to_bytes(4, "big") * 2
    bomb[29:33] = zlib.crc32(bytes(bomb[12:29])).to_bytes(4, "big")  # the IHDR chunk's CRC
    with pytest.raises(TooManyPixels):
        accept(bytes(bomb), "bomb.png", LIMITS)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_a_truncated_image_is_refused(fmt: str) -> None:
    whole = image_bytes(fmt, size=(300, 200), mode="L" if fmt == "GIF" else "RGB")
    with pytest.raises(DamagedFile) as refused:
        accept(whole[: len(whole) * 2 // 3], f"cut.{fmt.lower()}", LIMITS)
    assert refused.value.http_status == 422


def test_garbage_after_a_png_signature_is_refused() -> None:
    with pytest.raises(DamagedFile):
        accept(b"\x89PNG\r\n\x1a\n" + b"not a png at all" * 10, "x.png", LIMITS)


@pytest.mark.parametrize(("name", "make"), [
    ("png + pdf", lambda: image_bytes("PNG") + SIMPLE_PDF),
    ("jpeg + zip", lambda: image_bytes("JPEG") + zip_bytes()),
    ("jpeg + html", lambda: phone_photo() + b"<html><script>alert(1)</script></html>"),
    ("gif + script", lambda: image_bytes("GIF", mode="L") + b"<script>alert(1)</script>"),
    ("webp + zip", lambda: image_bytes("WEBP") + zip_bytes()),
    ("png with html in its head", lambda: _png_with_text("<html><script>x</script>")),
    ("pdf starting with html", lambda: b"<html><body>hi</body></html>\n" + SIMPLE_PDF),
    ("pdf + zip", lambda: SIMPLE_PDF + zip_bytes()),
    ("pdf with html head", lambda: SIMPLE_PDF[:9] + b"<script>x</script>\n" + SIMPLE_PDF[9:]),
])
def test_a_polyglot_is_refused(name: str, make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((Polyglot, UnsupportedType)) as refused:
        accept(make(), "file.bin", LIMITS)
    assert refused.value.http_status == 415


def _png_with_text(text: str) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return image_bytes("PNG", pnginfo=info)


def test_an_image_padded_with_zeros_is_no_polyglot() -> None:
    kept = accept(image_bytes("JPEG") + b"\x00" * 64, "padded.jpg", LIMITS)
    assert kept.media_type == "image/jpeg"


def test_a_cameras_binary_trailer_is_dropped_not_refused() -> None:
    # Samsung phones append records after the JPEG's end, closed by "SEFT": no other file.
    trailer = b"\x00\x00SEFH\x01\x00\x00\x00Image_UTC_Data1700000000000\x00\x10\x00SEFT"
    kept = accept(phone_photo() + trailer, "20261206_101500.jpg", LIMITS)
    assert b"SEFT" not in kept.data and b"Image_UTC_Data" not in kept.data


MP4 = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
       + b"\x00\x00\x00\x10mdat" + bytes(range(256)) * 64)


@pytest.mark.parametrize("trailer", [
    MP4,  # a Pixel motion photo's video
    b"MotionPhoto_Data" + MP4 + b"\x00\x00SEFH\x01\x00\x00\x00SEFT",  # Samsung's
    image_bytes("JPEG", size=(20, 10)) + MP4,  # an Ultra HDR gain map, then the video
])
def test_a_phones_extra_parts_are_dropped_not_refused(trailer: bytes) -> None:
    kept = accept(phone_photo() + trailer, "PXL_20261206_101010123.MP.jpg", LIMITS)
    assert kept.media_type == "image/jpeg" and b"ftyp" not in kept.data
    assert (kept.width, kept.height) == (60, 20)


@pytest.mark.parametrize("trailer", [
    b"plain words after the image",  # text is a file too
    b"\x01\x02<iframe src=//evil>",  # markup inside binary
    MP4 + zip_bytes(),  # a ZIP directory at the end of the video (and of the file)
    MP4[:40] + b"<script>alert(1)</script>" + MP4[40:],  # markup at the video's head
    b"\xff\xd8\xff\xe0\x00\x10" + b"<html>" * 3,  # a "gain map" that is markup
])
def test_any_file_after_an_image_is_refused(trailer: bytes) -> None:
    with pytest.raises(Polyglot):
        accept(image_bytes("JPEG") + trailer, "x.jpg", LIMITS)


def test_a_video_after_another_kind_of_image_is_refused() -> None:
    with pytest.raises(Polyglot):  # only a JPEG camera adds a video
        accept(image_bytes("PNG") + MP4, "x.png", LIMITS)


@pytest.mark.parametrize("script", [
    b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>",
    b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>",  # names spelt with escapes
    b"/Names << /JavaScript 9 0 R >>",
])
def test_a_pdf_that_runs_script_is_refused(script: bytes) -> None:
    with pytest.raises(ScriptedPdf) as refused:
        accept(SIMPLE_PDF.replace(b"/Type /Catalog", b"/Type /Catalog " + script), "a.pdf",
               LIMITS)
    assert refused.value.code == "pdf_script" and refused.value.http_status == 415


def test_a_script_packed_in_an_object_stream_is_found() -> None:
    packed = zlib.compress(b"3 0 << /S /JavaScript /JS (app.alert(1)) >>")
    pdf = (b"%PDF-1.5\n5 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
           + str(len(packed)).encode() + b" >>\nstream\n" + packed
           + b"\nendstream\nendobj\n%%EOF\n")
    with pytest.raises(ScriptedPdf):
        accept(pdf, "packed.pdf", LIMITS)


def test_js_in_a_pages_compressed_content_is_no_script() -> None:
    # Three bytes turn up by chance in megabytes of compressed pages: streams are not read.
    pdf = (b"%PDF-1.4\n4 0 obj\n<< /Length 12 /Filter /FlateDecode >>\nstream\n/JS (x) /JS \n"
           b"endstream\nendobj\n" + SIMPLE_PDF[len(b"%PDF-1.4\n"):])
    assert accept(pdf, "page.pdf", LIMITS).media_type == "application/pdf"


def test_a_large_image_is_served_at_most_4096_px_and_a_large_jpeg_decoded_small() -> None:
    wide = accept(image_bytes("PNG", size=(6000, 1000)), "wide.png", LIMITS)
    assert (wide.width, wide.height) == (4096, 683)
    photo = accept(image_bytes("JPEG", size=(8200, 3000)), "big.jpg", LIMITS)
    assert (photo.width, photo.height) == (4096, 1499)  # decoded at half scale, then fitted
    thumb = Image.open(io.BytesIO(photo.thumbnail or b""))
    assert max(thumb.size) == 320


def test_an_image_larger_once_re_encoded_is_refused() -> None:
    # A GIF's frame becomes a PNG: 256 colours of noise, 56 kB as GIF, ~110 kB as PNG.
    noise = random.Random(1).randbytes(200 * 200 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (200, 200), noise).quantize(256).save(out, "GIF")
    small = Limits(len(out.getvalue()) + 10, policy.HANDLED, 50_000_000)
    with pytest.raises(TooLarge) as refused:
        accept(out.getvalue(), "noise.gif", small)
    assert "re-encoded" in refused.value.message


@pytest.mark.parametrize("data", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b"<!doctype html><script>alert(1)</script>",
    b"\x7fELF\x02\x01\x01",
    b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
])
def test_types_that_are_not_allowed_are_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedType) as refused:
        accept(data, "x.png", LIMITS)
    assert refused.value.http_status == 415
    assert "accepted:" in refused.value.message


def test_a_type_left_out_of_allowed_types_is_refused() -> None:
    pdf_only = Limits(LIMITS.max_bytes, frozenset({"application/pdf"}), LIMITS.max_pixels)
    with pytest.raises(UnsupportedType):
        accept(image_bytes("PNG"), "a.png", pdf_only)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyFile) as refused:
        accept(b"", "empty.txt", LIMITS)
    assert refused.value.http_status == 422


def test_an_oversize_file_is_refused() -> None:
    small = Limits(1000, LIMITS.allowed_types, LIMITS.max_pixels)
    with pytest.raises(TooLarge) as refused:
        accept(b"a" * 1001, "big.txt", small)
    assert refused.value.http_status == 413
    assert accept(b"a" * 1000, "ok.txt", small).size == 1000


def test_text_with_nul_is_not_text() -> None:
    with pytest.raises(UnsupportedType):
        accept(b"hello\x00world", "a.txt", LIMITS)


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "kind", "name"), [
    ("../../etc/passwd", "text/plain", "passwd.txt"),
    ("C:\\Users\\me\\report.pdf", "application/pdf", "report.pdf"),
    ("photo.JPEG", "image/jpeg", "photo.jpeg"),
    ("scan.png", "application/pdf", "scan.pdf"),
    ("v1.2 notes", "application/pdf", "v1.2 notes.pdf"),
    ("notes.log", "text/plain", "notes.log.txt"),
    ("steps.html", "text/plain", "steps.txt"),  # text never keeps a page's or script's name
    ("fix.js", "text/plain", "fix.js.txt"),
    ("logo.svg", "text/plain", "logo.txt"),
    ("evil\u202egpj.exe", "image/png", "evil_gpj.exe.png"),
    ("", "image/png", "file.png"),
    ("گزارش.pdf", "application/pdf", "گزارش.pdf"),
])
def test_file_names_are_cleaned(raw: str, kind: str, name: str) -> None:
    assert file_name(raw, kind) == name


def test_a_long_name_keeps_its_extension() -> None:
    name = file_name("x" * 500 + ".pdf", "application/pdf")
    assert len(name) == policy.MAX_NAME_CHARS and name.endswith(".pdf")


def test_config_allows_exactly_the_types_the_policy_handles() -> None:
    assert frozenset(config_module.ATTACHMENT_TYPES) == policy.HANDLED


# As the server does (images.py): damaged EXIF is skipped with a warning per tag.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
def test_mutated_images_are_kept_or_refused_never_a_crash() -> None:
    """2,000 images with bytes changed, cut or inserted at random (seeded): each is kept or
    refused with one of the policy's errors; no other exception reaches the server."""
    import contextlib
    import random

    from chatserver.core.errors import ChatError

    seeds = [image_bytes("PNG"), image_bytes("JPEG"), image_bytes("GIF", mode="L"),
             image_bytes("WEBP"), image_bytes("JPEG", progressive=True), phone_photo()]
    rng = random.Random(19)
    for _ in range(2000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.6 and at < len(data):
                data[at] = rng.randrange(256)
            elif rng.random() < 0.5:
                del data[at:]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 16))
        with contextlib.suppress(ChatError):
            accept(bytes(data), "fuzz", LIMITS)
