"""Images to PDF pages: lossless where possible, upright, without location metadata.

Rules:
- The pixel count is checked from the header before any decoding (decompression-bomb guard).
- A JPEG in a plain orientation is embedded as is (img2pdf, no re-encoding) after its EXIF/XMP
  segments (where GPS data lives) are cut out; its EXIF orientation becomes the page rotation.
- PNG without transparency goes through img2pdf losslessly (ancillary chunks are not copied).
- Everything else (WebP, HEIC through pillow-heif, transparency, mirrored orientations) is
  decoded, turned upright and re-encoded without any metadata.
- A file that does not decode is refused.
- RGB and grey pages are written as PDF/A-2b (sRGB output intent, XMP identification); a CMYK
  JPEG kept as is cannot be (it would need a CMYK output intent) and stays plain PDF.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import os
import struct
import tempfile

import img2pdf
import pikepdf
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from archive.adapters.pdfa import srgb_icc
from archive.domain.errors import ReceiptRejected
from archive.domain.files import Kind
from archive.domain.rendering import Rendered

pillow_heif.register_heif_opener()
ORIENTATION_TAG = 0x0112
ROTATIONS = {
    1: img2pdf.Rotation["0"],
    3: img2pdf.Rotation["180"],
    6: img2pdf.Rotation["90"],
    8: img2pdf.Rotation["270"],
}


def strip_jpeg_metadata(data: bytes) -> bytes:
    """Drop APP1 (EXIF, XMP) and COM segments; keep JFIF, ICC, Adobe and the image itself."""
    if not data.startswith(b"\xff\xd8"):
        raise ReceiptRejected("the JPEG is corrupt", reason="corrupt-image")
    out, pos = bytearray(b"\xff\xd8"), 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ReceiptRejected("the JPEG is corrupt", reason="corrupt-image")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            return bytes(out + data[pos:])
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos : pos + 2 + length]
        if marker not in (0xE1, 0xFE):
            out += segment
        pos += 2 + length
    raise ReceiptRejected("the JPEG is truncated", reason="corrupt-image")


def _open(content: bytes, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(content))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ReceiptRejected("the image cannot be read", reason="corrupt-image") from None
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise ReceiptRejected(
            f"the image has too many pixels (at most {max_pixels})", reason="decompression-bomb"
        )
    return image


def _decoded(image: Image.Image, *, check_only: bool = False) -> Image.Image:
    """Decode the image (a JPEG that is only checked decodes at 1/8 scale: every scan is read)."""
    try:
        if check_only and image.format == "JPEG":
            image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    except (OSError, ValueError, SyntaxError):
        raise ReceiptRejected("the image is corrupt", reason="corrupt-image") from None
    return image


def _reencode(image: Image.Image) -> Rendered:
    upright = ImageOps.exif_transpose(_decoded(image)) or image
    if upright.mode in ("RGBA", "LA", "P", "PA"):
        upright = upright.convert("RGBA")
        background = Image.new("RGB", upright.size, "white")
        background.paste(upright, mask=upright.getchannel("A"))
        upright = background
    elif upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", quality=90, optimize=False)
    return _pdf(buffer.getvalue(), img2pdf.Rotation["0"])


@functools.cache
def srgb_profile() -> str:
    """An sRGB ICC profile (made by littleCMS through Pillow) as a path img2pdf can open. On
    Linux an anonymous in-memory file (``memfd``), which nothing outlives, not even a SIGKILL;
    elsewhere a private temp file, removed when the process exits normally."""
    profile = srgb_icc()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("coffre-srgb.icc")
        os.write(fd, profile)
        return f"/proc/self/fd/{fd}"
    with tempfile.NamedTemporaryFile(prefix="coffre-srgb-", suffix=".icc", delete=False) as f:
        f.write(profile)
    atexit.register(_remove, f.name)
    return f.name


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _as_pdfa2b(document: bytes) -> bytes:
    """img2pdf writes PDF/A-1b; the same file identifies itself as PDF/A-2b (a superset)."""
    with pikepdf.open(io.BytesIO(document)) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


CMYK_KEPT = "a CMYK JPEG is kept without re-encoding and would need a CMYK output intent"


def _pdf(image_bytes: bytes, rotation: img2pdf.Rotation, *, pdfa: bool = True) -> Rendered:
    try:
        if pdfa:
            result = _as_pdfa2b(
                img2pdf.convert(image_bytes, rotation=rotation, pdfa=srgb_profile())
            )
        else:
            result = img2pdf.convert(image_bytes, rotation=rotation)
    except Exception:
        raise ReceiptRejected("the image cannot be converted", reason="corrupt-image") from None
    assert isinstance(result, bytes)
    return Rendered.archival(result) if pdfa else Rendered.plain(result, CMYK_KEPT)


def image_to_pdf(content: bytes, kind: Kind, max_pixels: int) -> Rendered:
    image = _open(content, max_pixels)
    if kind is Kind.JPEG:
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
        if orientation in ROTATIONS and image.mode in ("RGB", "L", "CMYK"):
            _decoded(image, check_only=True)
            pdfa = image.mode != "CMYK"
            return _pdf(strip_jpeg_metadata(content), ROTATIONS[orientation], pdfa=pdfa)
    if kind is Kind.PNG and image.mode in ("RGB", "L") and "transparency" not in image.info:
        _decoded(image)
        return _pdf(content, img2pdf.Rotation["0"])
    return _reencode(image)
