"""Bad input over HTTP: each gets a clear RFC 9457 problem and leaves nothing stored."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pikepdf
import pytest
from archive_it_helpers import jpeg, png
from archive_pdfa_check import claims_pdfa, pdfa_2b_problems

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]
Stack = Any
MB = 1024 * 1024


async def _nothing_stored(stack: Stack) -> None:
    assert await stack.db.pool.fetchval("SELECT count(*) FROM receipts") == 0
    assert await stack.db.pool.fetchval("SELECT count(*) FROM staged_objects") == 0
    assert await stack.db.pool.fetchval("SELECT count(*) FROM outbox") == 0
    live_keys = await stack.vault_app.state.runtime.db.pool.fetchval(
        "SELECT count(*) FROM data_keys WHERE subject LIKE 'archive-receipt-%'"
        " AND wrapped IS NOT NULL"
    )
    assert live_keys == 0  # a key fetched while a refused file was rendered is destroyed again


def _problem(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


def _pdf_with(**kw: Any) -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page()
    out = io.BytesIO()
    doc.save(out, **kw)
    return out.getvalue()


async def test_bad_files_are_refused_with_a_clear_problem(stack: Stack, member: str) -> None:
    encrypted = _pdf_with(encryption=pikepdf.Encryption(owner="o-pw", user="u-pw"))
    cases = [
        (png(), "fake.jpg", "image/jpeg", 422, "archive.receipt-rejected"),
        (b"MZ\x90\x00not an image", "x.jpg", "image/jpeg", 415, "archive.unsupported-media-type"),
        (b"", "empty.jpg", "image/jpeg", 422, "archive.receipt-rejected"),
        (encrypted, "locked.pdf", "application/pdf", 422, "archive.pdf-encrypted"),
        (b"%PDF-1.7\n1 0 obj <<>> trash", "broken.pdf", "application/pdf", 422,
         "archive.receipt-rejected"),
        (jpeg(), "../../etc/passwd", "image/jpeg", 422, "archive.upload-invalid"),
        (jpeg(), "bad\x1bname.jpg", "image/jpeg", 422, "archive.upload-invalid"),
    ]  # fmt: skip
    for content, name, ctype, status, code in cases:
        answer = await stack.upload(member, content, name=name, content_type=ctype)
        _problem(answer, status, code)
    await _nothing_stored(stack)


async def test_a_decompression_bomb_is_refused(stack: Stack, member: str) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (12_000, 8_000)).save(buffer, format="PNG")
    answer = await stack.upload(
        member, buffer.getvalue(), name="bomb.png", content_type="image/png"
    )
    _problem(answer, 422, "archive.receipt-rejected")
    assert answer.json()["reason"] == "decompression-bomb"
    await _nothing_stored(stack)


async def test_a_2_gb_upload_is_refused_while_streaming(stack: Stack, member: str) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"'
            b"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        chunk = b"\xff" * MB
        for _ in range(2048):
            sent += len(chunk)
            yield chunk

    answer = await stack.client.post(
        "/v1/receipts",
        content=body(),
        headers=stack.headers(member) | {"content-type": "multipart/form-data; boundary=b0undary"},
    )
    _problem(answer, 413, "archive.too-large")
    assert sent < 64 * MB
    await _nothing_stored(stack)


async def test_a_declared_2_gb_body_is_refused_before_reading(stack: Stack, member: str) -> None:
    answer = await stack.client.post(
        "/v1/receipts",
        content=b"--b\r\n",
        headers=stack.headers(member)
        | {"content-type": "multipart/form-data; boundary=b", "content-length": str(2 * 1024**3)},
    )
    _problem(answer, 413, "archive.too-large")


async def test_a_pdf_with_javascript_is_stored_without_it(stack: Stack, member: str) -> None:
    doc = pikepdf.new()
    doc.add_blank_page()
    doc.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.launchURL('https://evil.example')")
    )
    out = io.BytesIO()
    doc.save(out)
    created = await stack.upload(
        member, out.getvalue(), name="js.pdf", content_type="application/pdf"
    )
    assert created.status_code == 201, created.text
    sealed = await stack.client.get(
        f"/v1/receipts/{created.json()['receipt_id']}", headers=stack.headers(member)
    )
    assert b"evil.example" not in sealed.content
    assert b"/JavaScript" not in sealed.content
    assert created.json()["pdfa"] is True
    assert pdfa_2b_problems(sealed.content) == []


async def test_a_pdf_whose_font_is_not_embedded_is_kept_plain_and_says_why(
    stack: Stack, member: str
) -> None:
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, "Total 12,50 EUR")
    canvas.save()
    created = await stack.upload(
        member, out.getvalue(), name="helvetica.pdf", content_type="application/pdf"
    )
    assert created.status_code == 201, created.text
    receipt_id, headers = created.json()["receipt_id"], stack.headers(member)
    assert created.json()["pdfa"] is False
    assert created.json()["pdfa_reason"] == "font Helvetica is not embedded"
    report = await stack.client.get(f"/v1/receipts/{receipt_id}/verification", headers=headers)
    assert report.json()["ok"] is True
    assert report.json()["pdfa"] is False
    assert report.json()["pdfa_reason"] == "font Helvetica is not embedded"
    sealed = await stack.client.get(f"/v1/receipts/{receipt_id}", headers=headers)
    assert not claims_pdfa(sealed.content)


async def test_requests_without_a_valid_token_are_refused(stack: Stack, member: str) -> None:
    answer = await stack.client.post(
        "/v1/receipts", files={"file": ("r.jpg", jpeg(), "image/jpeg")}
    )
    assert answer.status_code == 401
    answer = await stack.client.get("/v1/receipts", headers={"Authorization": "Bearer forged"})
    assert answer.status_code == 401


async def test_a_malformed_upload_is_a_clear_problem(stack: Stack, member: str) -> None:
    answer = await stack.client.post(
        "/v1/receipts", json={"file": "x"}, headers=stack.headers(member)
    )
    _problem(answer, 422, "archive.upload-invalid")
    answer = await stack.client.post(
        "/v1/receipts",
        files={"file": ("r.jpg", jpeg(), "image/jpeg")},
        data={"amount": "12,50"},
        headers=stack.headers(member),
    )
    _problem(answer, 422, "archive.upload-invalid")
    answer = await stack.client.get("/v1/receipts/not-a-uuid", headers=stack.headers(member))
    assert answer.status_code == 422
    await _nothing_stored(stack)
