"""What an incoming file is allowed to be: its name and its real type.

Rules: a file's type is read from its first bytes, never trusted from its name or the declared
content type; a declared type that disagrees with the bytes is refused. Accepted: JPEG, PNG,
WebP, HEIC/HEIF and PDF. A file name is kept only for display: it must be at most 255
characters, without path separators, control characters or a leading dot; otherwise the file
is refused with a clear reason.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from archive.domain.errors import InvalidUpload, ReceiptRejected, UnsupportedMediaType


class Kind(StrEnum):
    JPEG = "image/jpeg"
    PNG = "image/png"
    WEBP = "image/webp"
    HEIC = "image/heic"
    PDF = "application/pdf"

    @property
    def is_image(self) -> bool:
        return self is not Kind.PDF


ALIASES = {
    "image/jpg": Kind.JPEG,
    "image/pjpeg": Kind.JPEG,
    "image/heif": Kind.HEIC,
    "image/heic-sequence": Kind.HEIC,
    "image/heif-sequence": Kind.HEIC,
}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"heif"}
SNIFF_BYTES = 32


def sniff(head: bytes) -> Kind | None:
    """The type the first bytes prove, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind.WEBP
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return Kind.HEIC
    if head[:1024].lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
        return Kind.PDF
    return None


def declared_kind(content_type: str | None) -> Kind | None:
    """The declared type (None when absent or generic); an unsupported one is refused."""
    if not content_type:
        return None
    base = content_type.split(";")[0].strip().lower()
    if base in ("", "application/octet-stream"):
        return None
    if base in ALIASES:
        return ALIASES[base]
    try:
        return Kind(base)
    except ValueError:
        raise UnsupportedMediaType(
            "accepted types: JPEG, PNG, WebP, HEIC/HEIF, PDF", declared=base[:64]
        ) from None


def identify(content: bytes, content_type: str | None) -> Kind:
    """The file's real type; refuses empty files, unknown bytes and a lying content type."""
    if not content:
        raise ReceiptRejected("the file is empty", reason="empty")
    declared = declared_kind(content_type)
    found = sniff(content[:1024])
    if found is None:
        raise UnsupportedMediaType(
            "the file is not a JPEG, PNG, WebP, HEIC/HEIF or PDF", reason="unknown-content"
        )
    if declared is not None and declared is not found:
        raise ReceiptRejected(
            f"the file claims to be {declared.value} but its content is {found.value}",
            reason="type-mismatch",
        )
    return found


def clean_filename(name: str | None, fallback: str = "receipt") -> str:
    """A safe display name; refuses names that try to be paths or carry control characters."""
    if name is None or name == "":
        return fallback
    if len(name) > 255:
        raise InvalidUpload("the file name is longer than 255 characters", reason="filename")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise InvalidUpload("the file name must not contain a path", reason="filename")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidUpload("the file name must not contain control characters", reason="filename")
    return unicodedata.normalize("NFC", name)
