"""The desktop client against a fake auth and a fake archive (httpx mock transports)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from archive.entrypoints.cli import upload_all, watch
from archive.entrypoints.client import ClientError, ReceiptsClient

pytestmark = pytest.mark.unit


class FakeAuth:
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.seen.append(body)
        if request.url.path == "/v1/login":
            if body["password"] != "right-password":
                return httpx.Response(401, json={"detail": "bad credentials"})
            return httpx.Response(
                200, json={"second_factor_required": True, "ticket": "t" * 20, "methods": ["totp"]}
            )
        if request.url.path == "/v1/login/second-factor" and body["code"] == "123456":
            return httpx.Response(200, json={"access_token": "at-1", "refresh_token": "rt-1"})
        if request.url.path == "/v1/token/refresh":
            return httpx.Response(200, json={"access_token": "at-2", "refresh_token": "rt-2"})
        return httpx.Response(401, json={"detail": "no"})


class FakeArchive:
    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.uploads: list[str] = []
        self.keys: list[tuple[bytes, str]] = []
        """Each attempt's file name part and Idempotency-Key."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        name = request.content.split(b'filename="', 1)[1].split(b'"', 1)[0]
        self.keys.append((name, request.headers["idempotency-key"]))
        if request.headers.get("authorization") == "Bearer at-1" and self.uploads:
            return httpx.Response(401, json={"detail": "token expired"})
        if self.fail_first:
            self.fail_first -= 1
            return httpx.Response(503, json={"detail": "vault unavailable"})
        if b'filename="bad.jpg"' in request.content:
            return httpx.Response(422, json={"detail": "the file claims to be image/jpeg"})
        self.uploads.append(request.headers["authorization"])
        return httpx.Response(201, json={"status": "sealed", "receipt_id": "r-1"})


def _client(auth: FakeAuth, archive: FakeArchive) -> ReceiptsClient:
    return ReceiptsClient(
        httpx.AsyncClient(base_url="http://auth", transport=httpx.MockTransport(auth)),
        httpx.AsyncClient(base_url="http://archive", transport=httpx.MockTransport(archive)),
        attempts=3,
        backoff=0.001,
    )


def _files(tmp_path: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        (tmp_path / name).write_bytes(b"\xff\xd8\xff fake jpeg for the fake archive")
        paths.append(tmp_path / name)
    return paths


def test_login_asks_the_second_factor_and_uploads_refreshing_an_expired_token(
    tmp_path: Path,
) -> None:
    auth, archive = FakeAuth(), FakeArchive()
    client = _client(auth, archive)

    async def go() -> list[bool]:
        await client.login("me@example.com", "right-password", lambda q, s: "123456")
        return [o.ok for o in await upload_all(client, _files(tmp_path, "a.jpg", "b.jpg"))]

    assert asyncio.run(go()) == [True, True]
    assert archive.uploads == ["Bearer at-1", "Bearer at-2"]


def test_a_wrong_password_is_a_clear_error() -> None:
    client = _client(FakeAuth(), FakeArchive())
    with pytest.raises(ClientError, match="bad credentials"):
        asyncio.run(client.login("me@example.com", "wrong", lambda q, s: ""))


def test_temporary_failures_are_retried_and_refusals_are_reported(tmp_path: Path) -> None:
    archive = FakeArchive(fail_first=2)
    client = _client(FakeAuth(), archive)
    client.use_token("at-0")
    outcomes = asyncio.run(upload_all(client, _files(tmp_path, "ok.jpg", "bad.jpg")))
    assert [o.ok for o in outcomes] == [True, False]
    assert "claims to be" in outcomes[1].detail
    # every attempt of one file under one key (a lost answer is not archived twice), each file
    # under its own
    assert [name for name, _ in archive.keys] == [b"ok.jpg"] * 3 + [b"bad.jpg"]
    assert len({key for name, key in archive.keys if name == b"ok.jpg"}) == 1
    assert len({key for _, key in archive.keys}) == 2


def test_watch_uploads_each_new_file_once(tmp_path: Path) -> None:
    archive = FakeArchive()
    client = _client(FakeAuth(), archive)
    client.use_token("at-0")
    _files(tmp_path, "before.jpg")

    async def go() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(watch(client, tmp_path, 0.01, stop))
        await asyncio.sleep(0.05)
        _files(tmp_path, "new.pdf")
        for _ in range(500):
            if archive.uploads:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        stop.set()
        return await task

    assert asyncio.run(go()) == 0
    assert len(archive.uploads) == 1
