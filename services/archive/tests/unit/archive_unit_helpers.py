"""Sample files for archive's unit tests (made here, never downloaded)."""

from __future__ import annotations

import io

import pikepdf
from PIL import Image


def jpeg(width: int = 400, height: int = 300, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), (240, 240, 230))
    image.save(buffer, format="JPEG", quality=80, exif=exif or Image.Exif())
    return buffer.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (120, 80), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 20, 30) if mode == "RGB" else (10, 20, 30, 128)).save(
        buffer, format=fmt
    )
    return buffer.getvalue()


def pdf(*, javascript: bool = False, attachment: bool = False) -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page()
    if javascript:
        action = doc.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"))
        )
        doc.Root.OpenAction = action
        doc.Root.Names = pikepdf.Dictionary(
            JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), action]))
        )
        doc.pages[0].obj.AA = pikepdf.Dictionary(
            O=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
        )
    if attachment:
        doc.attachments["payload.exe"] = pikepdf.AttachedFileSpec(doc, b"MZ evil")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page()
    out = io.BytesIO()
    doc.save(out, encryption=pikepdf.Encryption(owner="owner-pw", user="user-pw"))
    return out.getvalue()
