"""Reading a peer's answer: the caller's own errors, never the peer's body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from common.errors import CoffreError
from common.http.peers import PeerClients, call_peer
from common.settings import MemberTokenSettings

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class PeerDown(CoffreError):
    code = "test.peer-down"
    status = 503
    title = "The peer cannot be reached"


class Gone(CoffreError):
    code = "test.gone"
    status = 410
    title = "Gone"


def _client(answer: httpx.Response | Exception) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://peer")


async def _call(answer: httpx.Response | Exception, **kw: Any) -> dict[str, Any]:
    async with _client(answer) as client:
        return await call_peer(client, "POST", "/x", peer="vault", unavailable=PeerDown, **kw)


async def test_a_json_object_answer_is_returned_and_empty_answers_read_as_empty_objects() -> None:
    assert await _call(httpx.Response(200, json={"a": 1})) == {"a": 1}
    assert await _call(httpx.Response(204)) == {}
    assert await _call(httpx.Response(200, json=[1, 2])) == {}


async def test_unreachable_unexpected_and_unreadable_answers_are_unavailable_without_the_body() -> (
    None
):
    with pytest.raises(PeerDown, match="unreachable \\(ConnectError\\)"):
        await _call(httpx.ConnectError("refused"))
    with pytest.raises(PeerDown) as answered:
        await _call(httpx.Response(500, json={"detail": "secret internals"}))
    assert "secret" not in str(answered.value.message)
    assert answered.value.extensions == {"vault_status": 500}
    with pytest.raises(PeerDown, match="unreadable"):
        await _call(httpx.Response(200, content=b"{not json"))


async def test_named_statuses_become_the_callers_errors_and_may_fall_through() -> None:
    refusals = {410: lambda _: Gone("gone"), 422: lambda _: None}
    with pytest.raises(Gone):
        await _call(httpx.Response(410), refusals=refusals)
    with pytest.raises(PeerDown) as fell:
        await _call(httpx.Response(422, json={"code": "other"}), refusals=refusals)
    assert fell.value.extensions == {"vault_status": 422}


async def test_peer_clients_follow_no_redirect_and_close_together() -> None:
    peers = PeerClients(MemberTokenSettings(service_name="test"))
    first = peers.open("http://a", timeout=1.0)
    second = peers.open("http://b", timeout=2.0)
    assert not first.follow_redirects
    assert not second.follow_redirects
    with pytest.raises(RuntimeError, match="service identity key"):
        peers.open("http://vault", timeout=1.0, audience="vault")
    await peers.aclose()
    assert first.is_closed
    assert second.is_closed


async def test_member_tokens_use_a_fixed_jwks_document_when_one_is_configured() -> None:
    settings = MemberTokenSettings(service_name="test", auth_jwks_json='{"keys": []}')
    peers = PeerClients(settings)
    verifier = peers.member_tokens(settings)
    assert verifier.keys is not None
    await peers.aclose()
