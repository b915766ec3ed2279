"""Integration helpers: member tokens, the sandbox as a real HTTP server, the bank's side."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from aiokafka import AIOKafkaProducer
from coffre_testing.waiting import patient
from common.events import Envelope
from common.events.erasure import ErasureRequested
from devstack.ports import free_port, wait_for_port
from joserfc import jwt
from joserfc.jwk import OKPKey

ISSUER = "https://auth.coffre.local"
AUDIENCE = "coffre-api"


class MemberTokens:
    """Mints auth-shaped access tokens (Ed25519, `at+jwt`) under a test key; serves its JWKS."""

    def __init__(self) -> None:
        self.key = OKPKey.generate_key("Ed25519", parameters={"kid": "it-key-1", "use": "sig"})
        self.other = OKPKey.generate_key("Ed25519", parameters={"kid": "it-key-1", "use": "sig"})

    @property
    def jwks_json(self) -> str:
        public = self.key.as_dict(private=False)
        return json.dumps({"keys": [public]})

    def token(
        self, user_id: str, *, scope: str = "member", key: OKPKey | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "sid": str(uuid.uuid4()),
            "scope": scope, "amr": ["pwd", "otp"], "iat": now, "exp": now + 300,
            "jti": str(uuid.uuid4()),
        } | claims  # fmt: skip
        header = {"alg": "Ed25519", "kid": "it-key-1", "typ": "at+jwt"}
        return jwt.encode(header, body, key or self.key, algorithms=["Ed25519"])

    def headers(self, user_id: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, **kw)}"}


@dataclass
class SandboxServer:
    """The sandbox bank as its own process (uvicorn) on a free port."""

    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start(cls, **settings: str) -> SandboxServer:
        port = free_port()
        env = os.environ | {"SANDBOX_BANK_HOST": "127.0.0.1", "SANDBOX_BANK_PORT": str(port)}
        env |= {f"SANDBOX_BANK_{k.upper()}": v for k, v in settings.items()}
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox_bank.main"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(process, f"http://127.0.0.1:{port}")
        try:
            wait_for_port(port, timeout=patient(20), process=process)
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Bank:
    """The member's browser at the bank, and the sandbox's test controls."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def approve(self, redirect_url: str, *, deny: bool = False) -> str:
        """Follow the SCA link as the member; return the `state` the bank sends back."""
        params = {"decision": "deny"} if deny else {}
        answer = await self.client.get(redirect_url, params=params)
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["location"]).query)["state"][0]

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def raw_transactions(self, token: str, resource_id: str) -> list[dict[str, Any]]:
        """Everything the bank says about an account (attended, all pages), for comparisons."""
        items: list[dict[str, Any]] = []
        url: str | None = f"/v1/accounts/{resource_id}/transactions"
        params: dict[str, str] | None = {"bookingStatus": "both", "dateFrom": "2000-01-01"}
        while url:
            headers = {
                "X-Request-ID": str(uuid.uuid4()),
                "Consent-ID": token,
                "PSU-IP-Address": "192.0.2.1",
            }
            response = await self.client.get(url, params=params, headers=headers)
            response.raise_for_status()
            report = response.json()["transactions"]
            items += report.get("booked", []) + report.get("pending", [])
            url, params = report["_links"].get("next", {}).get("href"), None
        return items

    async def transaction_count(self, psu_id: str) -> int:
        listed = await self.control("GET", f"/sandbox/psus/{psu_id}/accounts")
        return sum(a["transactionCount"] for a in listed["accounts"])


async def publish_erasure(bootstrap: str, user_id: str, request_id: str) -> None:
    event = ErasureRequested(user_id=user_id, requested_at=time_now(), request_id=request_id)
    envelope = Envelope.wrap(event, producer="auth", subject=user_id)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(event.topic(), envelope.to_bytes(), key=user_id.encode())
    finally:
        await producer.stop()


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
