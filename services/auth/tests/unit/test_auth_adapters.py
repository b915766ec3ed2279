"""Adapters that need no network: sealing, SMS senders, settings, SAML metadata parsing."""

from __future__ import annotations

import json

import httpx
import pytest
from auth.adapters.sealing import SealBroken, SecretBox
from auth.adapters.sms import HttpSmsSender, RecordingSmsSender, SmsDeliveryFailed
from auth.domain.errors import SsoRefused
from auth.service.sso import idp_entity_id
from auth.settings import AuthSettings

pytestmark = pytest.mark.unit


def test_sealed_value_opens_only_with_the_same_key_and_binding() -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", "totp:user-1")
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed, "totp:user-1") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(SealBroken):
        box.open(sealed, "totp:user-2")
    with pytest.raises(SealBroken):
        SecretBox(b"z" * 32).open(sealed, "totp:user-1")
    with pytest.raises(SealBroken):
        box.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "totp:user-1")


@pytest.mark.asyncio
async def test_http_sms_sender_posts_json_with_bearer_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202 if request.url.path == "/ok" else 500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await HttpSmsSender("https://sms.test/ok", "key-123", client=client).send("+331", "hi")
        with pytest.raises(SmsDeliveryFailed):
            await HttpSmsSender("https://sms.test/ko", "key-123", client=client).send("+331", "x")
    assert seen[0].headers["authorization"] == "Bearer key-123"
    assert json.loads(seen[0].content) == {"to": "+331", "from": "Coffre", "text": "hi"}


@pytest.mark.asyncio
async def test_recording_sender_keeps_messages_in_memory() -> None:
    sender = RecordingSmsSender(limit=2)
    for text in ("a", "b", "c"):
        await sender.send("+33612345678", text)
    assert [m.text for m in sender.messages] == ["b", "c"]
    last = sender.last_to("+33612345678")
    assert last is not None
    assert last.text == "c"


def test_placeholder_secrets_are_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        AuthSettings(environment="test")
    AuthSettings(environment="development")


def test_production_refuses_recording_senders_and_short_secrets() -> None:
    good = {"pepper": "p" * 40, "key_encryption_key": "k" * 40}
    with pytest.raises(ValueError, match="recording"):
        AuthSettings(environment="production", **good)
    with pytest.raises(ValueError, match="at least 32"):
        AuthSettings(environment="test", pepper="short", key_encryption_key="k" * 40)
    with pytest.raises(ValueError):
        AuthSettings(environment="test", access_ttl_seconds=600, **good)
    with pytest.raises(ValueError):
        AuthSettings(environment="test", argon2_memory_kib=4096, **good)


def test_idp_metadata_must_describe_one_identity_provider() -> None:
    md = (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'entityID="https://idp.test/md"><md:IDPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>'
    )
    assert idp_entity_id(md) == "https://idp.test/md"
    for bad in ("<x/>", "not xml", md.replace("IDPSSODescriptor", "SPSSODescriptor")):
        with pytest.raises(SsoRefused):
            idp_entity_id(bad)
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(SsoRefused):
        idp_entity_id(bomb)
