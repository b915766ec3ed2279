"""SAML 2.0 single sign-on end to end against a real pysaml2 IdP run inside the test."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from auth.service import sso
from auth_it_conftest import RunningAuth
from auth_it_helpers import UA
from saml_idp import TestIdp, tamper

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _tenant(auth: RunningAuth, idp: TestIdp) -> str:
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    assert auth.container.deps is not None
    await sso.create_tenant(auth.container.deps, slug, "ACME", idp.metadata())
    r = await auth.client.get(f"/v1/sso/{slug}/metadata")
    assert r.status_code == 200
    assert "AssertionConsumerService" in r.text
    idp.trust_sp(r.text)
    return slug


async def _start(auth: RunningAuth, slug: str) -> str:
    r = await auth.client.get(f"/v1/sso/{slug}/login", headers=UA)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("https://idp.example.test/sso?SAMLRequest=")
    return location


async def _post(auth: RunningAuth, slug: str, saml_response: str) -> tuple[int, dict[str, str]]:
    r = await auth.client.post(
        f"/v1/sso/{slug}/acs", data={"SAMLResponse": saml_response}, headers=UA
    )
    return r.status_code, r.json()


async def test_sp_initiated_login_maps_the_idp_user_to_one_account(
    auth: RunningAuth, tmp_path: Path
) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    status, body = await _post(
        auth, slug, idp.respond(await _start(auth, slug), name_id="emp-1", email="ann@acme.test")
    )
    assert status == 200, body
    me = await auth.client.get(
        "/v1/me", headers={"authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["email"] == "ann@acme.test"
    status, again = await _post(
        auth, slug, idp.respond(await _start(auth, slug), name_id="emp-1", email="ann@acme.test")
    )
    assert status == 200
    me2 = await auth.client.get(
        "/v1/me", headers={"authorization": f"Bearer {again['access_token']}"}
    )
    assert me2.json()["user_id"] == me.json()["user_id"]


async def test_tampered_assertion_is_refused(auth: RunningAuth, tmp_path: Path) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    genuine = idp.respond(await _start(auth, slug), name_id="emp-2", email="bo@acme.test")
    control = idp.respond(await _start(auth, slug), name_id="emp-2", email="bo@acme.test")
    forged = tamper(genuine, "emp-2", "emp-admin")
    status, body = await _post(auth, slug, forged)
    assert status == 401
    assert body["code"] == "auth.sso-refused"
    assert (await _post(auth, slug, control))[0] == 200


async def test_tampered_attribute_is_refused(auth: RunningAuth, tmp_path: Path) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    genuine = idp.respond(await _start(auth, slug), name_id="emp-3", email="cy@acme.test")
    control = idp.respond(await _start(auth, slug), name_id="emp-3", email="cy@acme.test")
    status, body = await _post(auth, slug, tamper(genuine, "cy@acme.test", "ceo@acme.test"))
    assert status == 401
    assert body["code"] == "auth.sso-refused"
    assert (await _post(auth, slug, control))[0] == 200


async def test_replayed_response_is_refused(auth: RunningAuth, tmp_path: Path) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    response = idp.respond(await _start(auth, slug), name_id="emp-4", email="di@acme.test")
    assert (await _post(auth, slug, response))[0] == 200
    status, body = await _post(auth, slug, response)
    assert status == 401
    assert body["code"] == "auth.sso-refused"


async def test_unsigned_assertion_is_refused(auth: RunningAuth, tmp_path: Path) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    response = idp.respond(
        await _start(auth, slug), name_id="emp-5", email="ed@acme.test", sign_assertion=False
    )
    status, body = await _post(auth, slug, response)
    assert status == 401
    assert body["code"] == "auth.sso-refused"


async def test_assertion_signed_by_another_idp_is_refused(
    auth: RunningAuth, tmp_path: Path
) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    impostor = TestIdp(tmp_path, name="impostor")
    sp_metadata = (await auth.client.get(f"/v1/sso/{slug}/metadata")).text
    impostor.trust_sp(sp_metadata)
    response = impostor.respond(await _start(auth, slug), name_id="emp-6", email="fa@acme.test")
    status, body = await _post(auth, slug, response)
    assert status == 401
    assert body["code"] == "auth.sso-refused"


async def test_unsolicited_and_garbage_responses_are_refused(
    auth: RunningAuth, tmp_path: Path
) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    for junk in ("bm90IHhtbA==", "%%%", "PHNhbWxwOlJlc3BvbnNlLz4="):
        status, body = await _post(auth, slug, junk)
        assert status == 401
        assert body["code"] == "auth.sso-refused"
    status, body = await _post(auth, "no-such-tenant", "PHg+")
    assert status in (401, 404)


async def test_assertion_signed_with_sha1_is_refused(auth: RunningAuth, tmp_path: Path) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    weak = idp.respond(await _start(auth, slug), name_id="emp-7", email="gi@acme.test", sha1=True)
    status, body = await _post(auth, slug, weak)
    assert status == 401
    assert body["code"] == "auth.sso-refused"
    strong = idp.respond(await _start(auth, slug), name_id="emp-7", email="gi@acme.test")
    assert (await _post(auth, slug, strong))[0] == 200


async def test_assertion_meant_for_another_service_provider_is_refused(
    auth: RunningAuth, tmp_path: Path
) -> None:
    idp = TestIdp(tmp_path)
    slug = await _tenant(auth, idp)
    other = await _tenant(auth, idp)
    ours = (await auth.client.get(f"/v1/sso/{slug}/metadata")).text
    theirs = (await auth.client.get(f"/v1/sso/{other}/metadata")).text
    idp.trust_sp(ours, theirs)
    base = "http://testserver/v1/sso"
    for audience, destination in (
        (f"{base}/{other}/metadata", f"{base}/{other}/acs"),
        (f"{base}/{other}/metadata", f"{base}/{slug}/acs"),
    ):
        response = idp.respond(
            await _start(auth, slug), name_id="emp-8", email="ha@acme.test",
            sp_entity_id=audience, destination=destination,
        )  # fmt: skip
        status, body = await _post(auth, slug, response)
        assert status == 401, (audience, destination)
        assert body["code"] == "auth.sso-refused"


async def test_expired_assertion_is_refused(auth: RunningAuth, tmp_path: Path) -> None:
    idp = TestIdp(tmp_path, lifetime_minutes=-2)
    slug = await _tenant(auth, idp)
    response = idp.respond(await _start(auth, slug), name_id="emp-9", email="io@acme.test")
    status, body = await _post(auth, slug, response)
    assert status == 401
    assert body["code"] == "auth.sso-refused"


async def test_saml_form_with_more_than_ten_fields_is_refused_not_a_500(
    auth: RunningAuth, tmp_path: Path
) -> None:
    slug = await _tenant(auth, TestIdp(tmp_path))
    form = {"SAMLResponse": "PHg+"} | {f"extra{i}": "x" for i in range(11)}
    r = await auth.client.post(f"/v1/sso/{slug}/acs", data=form, headers=UA)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "auth.sso-refused"
