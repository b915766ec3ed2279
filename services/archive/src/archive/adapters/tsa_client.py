"""RFC 3161 timestamps over HTTP with a kept-alive connection per sealing thread.

Rules: each sealing thread keeps one HTTP/1.1 client (httpx, keep-alive), so a token costs one
request on an open connection, not a TCP handshake; the call blocks only the sealing thread's
own event loop (each sealing thread runs its own loop, nothing else waits on it); a transport
error, a non-200 answer or a reply that is not `application/timestamp-reply` is a
`TimestampRequestError` (the seal fails and the receipt is retried). The token is checked by
pyHanko (message imprint, nonce) as with its stock clients.
"""

from __future__ import annotations

import threading

import httpx
from asn1crypto import tsp
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, set_tsp_headers

REPLY_TYPE = "application/timestamp-reply"


class KeepAliveHttpTimeStamper(TimeStamper):
    """pyHanko `TimeStamper` for an HTTP TSA, one persistent connection per thread."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.url = url
        self._timeout = timeout
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=self._timeout)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def request(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            answer = self._client().post(self.url, content=req.dump(), headers=set_tsp_headers({}))
        except httpx.HTTPError as exc:
            raise TimestampRequestError(
                f"the timestamp authority is unreachable ({type(exc).__name__})"
            ) from None
        if answer.status_code != 200 or answer.headers.get("content-type") != REPLY_TYPE:
            raise TimestampRequestError(f"the timestamp authority answered {answer.status_code}")
        return tsp.TimeStampResp.load(answer.content)

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.request(req)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
