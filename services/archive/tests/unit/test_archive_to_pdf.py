from __future__ import annotations

import io

import pikepdf
import pytest
from archive.adapters.images import image_to_pdf, strip_jpeg_metadata
from archive.adapters.pdfs import sanitise_pdf
from archive.adapters.text_pdf import text_to_pdf
from archive.domain.errors import EncryptedPdfRefused, ReceiptRejected
from archive.domain.files import Kind, identify
from archive_unit_helpers import encrypted_pdf, image_bytes, jpeg, pdf
from PIL import Image

pytestmark = pytest.mark.unit
MAX = 50_000_000


def _gps_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    gps[3] = "E"
    gps[4] = (2.0, 21.0, 7.0)
    return exif


def _only_image(document: bytes) -> pikepdf.Object:
    with pikepdf.open(io.BytesIO(document)) as doc:
        page = doc.pages[0]
        rotate = int(page.obj.get("/Rotate", 0))
        [(_, image)] = list(page.images.items())
        return rotate, image.read_raw_bytes(), str(image.Filter)


def test_jpeg_is_embedded_without_reencoding_and_without_location() -> None:
    original = jpeg(exif=_gps_exif(1))
    assert b"CameraMaker" in original
    rotate, raw, codec = _only_image(image_to_pdf(original, Kind.JPEG, MAX).pdf)
    assert codec == "/DCTDecode"
    assert raw == strip_jpeg_metadata(original)
    assert b"CameraMaker" not in raw
    assert b"Exif" not in raw
    assert rotate == 0


def test_exif_orientation_becomes_the_page_rotation() -> None:
    rotate, _, _ = _only_image(image_to_pdf(jpeg(exif=_gps_exif(6)), Kind.JPEG, MAX).pdf)
    assert rotate == 90


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    big = image_bytes("PNG", size=(2000, 1000))
    with pytest.raises(ReceiptRejected) as refused:
        image_to_pdf(big, Kind.PNG, 1_000_000)
    assert refused.value.extensions["reason"] == "decompression-bomb"


def test_a_truncated_jpeg_is_refused() -> None:
    broken = jpeg()[:400]
    with pytest.raises(ReceiptRejected):
        image_to_pdf(broken, Kind.JPEG, MAX)


def test_webp_and_transparent_png_become_pdf_pages() -> None:
    for content, kind in ((image_bytes("WEBP"), Kind.WEBP),
                          (image_bytes("PNG", mode="RGBA"), Kind.PNG)):  # fmt: skip
        with pikepdf.open(io.BytesIO(image_to_pdf(content, kind, MAX).pdf)) as doc:
            assert len(doc.pages) == 1


def test_heic_is_decoded_through_pillow_heif() -> None:
    import pillow_heif

    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this pillow-heif build has no HEIC encoder to make a sample")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, format="HEIF")
    assert identify(buffer.getvalue(), "image/heic") is Kind.HEIC
    with pikepdf.open(io.BytesIO(image_to_pdf(buffer.getvalue(), Kind.HEIC, MAX).pdf)) as doc:
        assert len(doc.pages) == 1


def test_javascript_launch_actions_and_embedded_files_are_removed() -> None:
    dirty = pdf(javascript=True, attachment=True)
    assert b"/JavaScript" in dirty
    clean = sanitise_pdf(dirty).pdf
    with pikepdf.open(io.BytesIO(clean)) as doc:
        assert "/OpenAction" not in doc.Root
        assert "/AA" not in doc.pages[0].obj
        assert len(doc.attachments) == 0
        names = doc.Root.get("/Names", pikepdf.Dictionary())
        assert "/JavaScript" not in names
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Dictionary):
                assert "/JS" not in obj
                assert str(obj.get("/S")) not in ("/JavaScript", "/Launch")


def test_an_encrypted_pdf_is_refused_clearly() -> None:
    with pytest.raises(EncryptedPdfRefused) as refused:
        sanitise_pdf(encrypted_pdf())
    assert refused.value.code == "archive.pdf-encrypted"


def test_a_pdf_with_a_broken_structure_is_refused() -> None:
    with pytest.raises(ReceiptRejected):
        sanitise_pdf(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> garbage\n%%EOF")


def test_a_broken_cross_reference_table_is_rebuilt() -> None:
    good = pdf()
    start = good.rindex(b"startxref")
    broken = good[:start] + b"startxref\n999999\n%%EOF\n"
    with pikepdf.open(io.BytesIO(sanitise_pdf(broken).pdf)) as doc:
        assert len(doc.pages) == 1


def test_text_renders_to_a_pdf() -> None:
    rendered = text_to_pdf("Your receipt", "Total: 12,50 €\nMerci !")
    with pikepdf.open(io.BytesIO(rendered.pdf)) as doc:
        assert len(doc.pages) == 1


def test_an_rgb_receipt_becomes_pdf_a_2b() -> None:
    document = image_to_pdf(jpeg(exif=_gps_exif(1)), Kind.JPEG, MAX).pdf
    with pikepdf.open(io.BytesIO(document)) as doc:
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "2"
        assert meta["pdfaid:conformance"] == "B"
        [intent] = list(doc.Root.OutputIntents)
        assert str(intent.S) == "/GTS_PDFA1"
        assert b"acsp" in intent.DestOutputProfile.read_bytes()[:64]
