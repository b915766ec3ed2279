from __future__ import annotations

import pytest
from archive.domain.errors import InvalidUpload, ReceiptRejected, UnsupportedMediaType
from archive.domain.files import Kind, clean_filename, identify
from archive_unit_helpers import image_bytes, jpeg, pdf

pytestmark = pytest.mark.unit


def test_type_is_read_from_the_bytes_not_the_name() -> None:
    assert identify(jpeg(), None) is Kind.JPEG
    assert identify(image_bytes("PNG"), "application/octet-stream") is Kind.PNG
    assert identify(image_bytes("WEBP"), "image/webp") is Kind.WEBP
    assert identify(pdf(), "application/pdf") is Kind.PDF


def test_a_file_that_claims_to_be_a_jpeg_and_is_not_is_refused() -> None:
    with pytest.raises(ReceiptRejected) as refused:
        identify(image_bytes("PNG"), "image/jpeg")
    assert refused.value.extensions["reason"] == "type-mismatch"
    with pytest.raises(UnsupportedMediaType):
        identify(b"MZ\x90\x00 this is an executable", "image/jpeg")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ReceiptRejected) as refused:
        identify(b"", "image/jpeg")
    assert refused.value.extensions["reason"] == "empty"


def test_an_unsupported_declared_type_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        identify(jpeg(), "application/x-msdownload")


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "a/b.jpg", "a\\b.jpg", "..", ".hidden", "bad\x00.jpg", "new\nline.pdf",
     "rtl\u202egpj.exe", "x" * 256],
)  # fmt: skip
def test_a_filename_with_path_separators_or_control_characters_is_refused(name: str) -> None:
    with pytest.raises(InvalidUpload):
        clean_filename(name)


def test_an_ordinary_filename_is_kept() -> None:
    assert clean_filename("Facture n°12 (mars).pdf") == "Facture n°12 (mars).pdf"
    assert clean_filename(None) == "receipt"
