"""E-mail intake over real SMTP (smtplib as the sending server): who may send, what is taken,
and the reply codes for everything else."""

from __future__ import annotations

import asyncio
import io
import shutil
import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from typing import Any

import pikepdf
import pytest
from archive.service import processing
from archive_it_helpers import jpeg, png, publish
from archive_pdfa_check import pdf_text, pdfa_2b_problems, pdfsig_says_valid
from coffre_testing.waiting import until
from common.events.auth import UserRegistered

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]
Stack = Any


async def _registered(stack: Stack, infra: Any, email: str) -> tuple[str, str]:
    """A member registered with auth (the real event over the broker); their receipts address."""
    user_id = uuid.uuid4()
    event = UserRegistered(user_id=user_id, method="password", verified_email=email)
    await publish(infra.bootstrap_servers, event, subject=str(user_id))

    async def sender_known() -> bool:
        found = await stack.db.pool.fetchval(
            "SELECT 1 FROM mail_senders WHERE user_id = $1", str(user_id)
        )
        return found is not None

    await until(sender_known)
    answer = await stack.client.get("/v1/receipts/address", headers=stack.headers(str(user_id)))
    return str(user_id), answer.json()["address"]


def _message(sender: str, to: str, *attachments: tuple[bytes, str, str], body: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Fwd: your receipt"
    msg.set_content(body or "See attached.")
    for content, name, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=policy.SMTP)


def _send(port: int, sender: str, to: str, data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("mx.example")
        code, reply = smtp.mail(sender)
        if code != 250:
            return code, reply
        code, reply = smtp.rcpt(to)
        if code != 250:
            return code, reply
        return smtp.data(data)


async def send(stack: Stack, sender: str, to: str, data: bytes) -> tuple[int, bytes]:
    port = stack.container.smtp_port
    return await asyncio.to_thread(_send, port, sender, to, data)


async def _receipts(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    """The member's receipts, after one pass of the retries the scheduler runs in production (it
    is off in these tests): a seal deferred by a slow TSA or vault is tried again when due."""
    await processing.process_due(stack.container.ctx)
    answer = await stack.client.get("/v1/receipts", headers=stack.headers(user_id))
    found: list[dict[str, Any]] = answer.json()["receipts"]
    return found


def _statuses(found: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in found]


async def test_forwarded_attachments_from_a_verified_sender_become_sealed_receipts(
    stack: Stack, infra: Any
) -> None:
    user, address = await _registered(stack, infra, "Alice@Example.com")
    data = _message("alice@example.com", address, (jpeg(), "a.jpg", "image/jpeg"),
                    (png(), "b.png", "image/png"))  # fmt: skip
    code, reply = await send(stack, "alice@example.com", address, data)
    assert code == 250, reply

    found = await until(lambda: _receipts(stack, user), lambda f: _statuses(f) == ["sealed"] * 2)
    assert {r["source"] for r in found} == {"email"}


async def test_a_message_without_attachment_becomes_a_receipt_of_its_body(
    stack: Stack, infra: Any
) -> None:
    user, address = await _registered(stack, infra, "bob@example.com")
    data = _message("bob@example.com", address, body="Uber trip 14.20 EUR, 30 Nov 2026")
    assert (await send(stack, "bob@example.com", address, data))[0] == 250

    async def sealed() -> list[dict[str, Any]]:
        return [r for r in await _receipts(stack, user) if r["status"] == "sealed"]

    [receipt] = await until(sealed)
    pdf = await stack.client.get(
        f"/v1/receipts/{receipt['receipt_id']}", headers=stack.headers(user)
    )
    assert pdf.content.startswith(b"%PDF")
    assert receipt["pdfa"] is True
    assert pdfa_2b_problems(pdf.content) == []
    if shutil.which("pdfsig"):
        assert pdfsig_says_valid(pdf.content)


async def test_an_html_body_is_rendered_from_its_text_with_nothing_fetched_or_run(
    stack: Stack, infra: Any
) -> None:
    user, address = await _registered(stack, infra, "fay@example.com")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "fay@example.com", address, "Votre reçu"
    msg.set_content(
        "<html><head><script>steal()</script><style>p{}</style></head><body>"
        '<img src="https://tracker.example/p.gif"><p>Café Léa</p>'
        "<table><tr><td>Total</td><td>8,40 €</td></tr></table></body></html>",
        subtype="html",
    )
    data = msg.as_bytes(policy=policy.SMTP)
    assert (await send(stack, "fay@example.com", address, data))[0] == 250

    async def sealed() -> list[dict[str, Any]]:
        return [r for r in await _receipts(stack, user) if r["status"] == "sealed"]

    [receipt] = await until(sealed)
    pdf = await stack.client.get(
        f"/v1/receipts/{receipt['receipt_id']}", headers=stack.headers(user)
    )
    assert pdfa_2b_problems(pdf.content) == []
    if shutil.which("pdftotext"):
        text = pdf_text(pdf.content)
        assert "Café Léa" in text
        assert "8,40 €" in text
        assert "steal" not in text
        assert "tracker.example" not in text


async def test_mail_from_an_unknown_sender_or_to_an_unknown_address_is_refused(
    stack: Stack, infra: Any
) -> None:
    _, address = await _registered(stack, infra, "carol@example.com")
    data = _message("mallory@evil.example", address, (jpeg(), "a.jpg", "image/jpeg"))
    code, reply = await send(stack, "mallory@evil.example", address, data)
    assert (code, reply[:5]) == (550, b"5.7.1")
    guessed = "r-aaaaaaaaaaaaaaaaaaaaaaaaaa@receipts.coffre.local"
    code, reply = await send(stack, "carol@example.com", guessed, data)
    assert (code, reply[:5]) == (550, b"5.1.1")
    spoofed = _message("mallory@evil.example", address, (jpeg(), "a.jpg", "image/jpeg"))
    code, reply = await send(stack, "carol@example.com", address, spoofed)
    assert (code, reply[:5]) == (550, b"5.7.1")
    assert await stack.db.pool.fetchval("SELECT count(*) FROM receipts") == 0


async def test_too_many_attachments_archives_and_bad_files_are_refused_whole(
    stack: Stack, infra: Any
) -> None:
    _, address = await _registered(stack, infra, "dan@example.com")
    many = _message("dan@example.com", address,
                    *[(png(), f"{i}.png", "image/png") for i in range(500)])  # fmt: skip
    code, reply = await send(stack, "dan@example.com", address, many)
    assert (code, reply[:5]) == (552, b"5.3.4")
    nested = _message("dan@example.com", address, (b"PK\x03\x04zip", "r.zip", "application/zip"))
    code, reply = await send(stack, "dan@example.com", address, nested)
    assert (code, reply[:5]) == (554, b"5.6.1")
    lying = _message("dan@example.com", address, (jpeg(), "ok.jpg", "image/jpeg"),
                     (png(), "lie.jpg", "image/jpeg"))  # fmt: skip
    code, reply = await send(stack, "dan@example.com", address, lying)
    assert (code, reply[:5]) == (554, b"5.6.0")
    locked = io.BytesIO()
    with pikepdf.new() as doc:
        doc.add_blank_page()
        doc.save(locked, encryption=pikepdf.Encryption(owner="o-pw", user="u-pw"))
    for bad in (locked.getvalue(), b"%PDF-1.7\n1 0 obj <<>> trash"):
        message = _message("dan@example.com", address, (bad, "r.pdf", "application/pdf"))
        code, reply = await send(stack, "dan@example.com", address, message)
        assert (code, reply[:5]) == (554, b"5.6.0")
    assert await stack.db.pool.fetchval("SELECT count(*) FROM receipts") == 0


def _size_probe(port: int, limit: int) -> tuple[str, int]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("mx.example")
        advertised = smtp.esmtp_features.get("size", "")
        code, _ = smtp.mail("erin@example.com", options=[f"SIZE={limit + 1}"])
        return advertised, code


async def test_the_message_size_is_limited_by_the_protocol(stack: Stack, infra: Any) -> None:
    await _registered(stack, infra, "erin@example.com")
    limit = stack.settings.smtp_max_message_bytes
    advertised, code = await asyncio.to_thread(_size_probe, stack.container.smtp_port, limit)
    assert int(advertised) == limit
    assert code == 552
