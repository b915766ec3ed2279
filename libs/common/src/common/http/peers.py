"""Calls from a Coffre service to its peers (other services, the JWKS) over HTTP.

Rules:
- ``PeerClients`` opens every outbound client a service container needs and closes them all at
  stop; redirects are never followed (a peer that redirects is misconfigured, and a redirect
  must not carry a service token elsewhere); a client for another service carries a service
  token for that audience, signed with this service's identity key (read once).
- ``call_peer`` reads an answer one way: a transport error, a status the caller did not name
  (≥ 300) and a body that is not JSON all become the caller's own "unavailable" error, naming
  the peer and the status, never the peer's body (a peer's problem detail is for the peer's
  logs, not for our members); statuses the caller names in ``refusals`` become its own errors
  first (a refusal may return None to fall through); 204, an empty body or JSON that is not an
  object read as an empty object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import httpx

from common.security.access_tokens import (
    AccessTokenVerifier,
    HttpJwksSource,
    JwksCache,
    JwksSource,
    StaticJwksSource,
)
from common.security.service_identity import ServiceAuth, ServiceTokenIssuer
from common.settings import MemberTokenSettings, ServiceSettings

Refusal = Callable[[httpx.Response], Exception | None]
NO_REFUSALS: Mapping[int, Refusal] = MappingProxyType({})


class PeerClients:
    """The outbound HTTP clients of one service container, closed together."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._clients: list[httpx.AsyncClient] = []
        self._issuer: ServiceTokenIssuer | None = None

    def open(
        self,
        base_url: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        audience: str | None = None,
    ) -> httpx.AsyncClient:
        """A client for one peer; with ``audience``, every request carries a service token."""
        auth = ServiceAuth(self.issuer(), audience) if audience is not None else None
        client = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout, follow_redirects=False,
            auth=auth,
        )  # fmt: skip
        self._clients.append(client)
        return client

    def issuer(self) -> ServiceTokenIssuer:
        """This service's identity, from its key file (settings refuse to start without one
        when a peer needs it)."""
        if self._issuer is None:
            s = self._settings
            if s.service_identity_key_file is None:
                raise RuntimeError(f"{s.service_name} needs a service identity key to call peers")
            self._issuer = ServiceTokenIssuer.from_file(s.service_name, s.service_identity_key_file)
        return self._issuer

    def member_tokens(
        self, settings: MemberTokenSettings, source: JwksSource | None = None
    ) -> AccessTokenVerifier:
        """The verifier of members' access tokens: auth's keys from a fixed JWKS document when
        one is configured (tests, development), else fetched from auth and cached."""
        if source is None:
            if settings.auth_jwks_json:
                source = StaticJwksSource(json.loads(settings.auth_jwks_json))
            else:
                client = self.open(settings.auth_jwks_url, timeout=5.0)
                source = HttpJwksSource(settings.auth_jwks_url, client)
        return AccessTokenVerifier(
            JwksCache(source), issuer=settings.token_issuer, audience=settings.token_audience
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()


async def call_peer(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    peer: str,
    unavailable: Callable[..., Exception],
    refusals: Mapping[int, Refusal] = NO_REFUSALS,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one request to ``peer`` and read its JSON answer (rules in the module docstring)."""
    try:
        response = await client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise unavailable(f"the {peer} is unreachable ({type(exc).__name__})") from None
    refusal = refusals.get(response.status_code)
    error = refusal(response) if refusal is not None else None
    if error is not None:
        raise error
    if response.status_code >= 300:
        raise unavailable(
            f"the {peer} answered {response.status_code}",
            **{f"{peer}_status": response.status_code},
        )
    if response.status_code == 204 or not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        raise unavailable(f"the {peer} sent an unreadable answer") from None
    return data if isinstance(data, dict) else {}
