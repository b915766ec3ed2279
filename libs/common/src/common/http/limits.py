"""Request body size limits, enforced before a body is read into memory.

Rules:
- every service app refuses a body over its limit: 128 KiB unless the service sets its own
  (``BodyLimits``), with larger or no limits only for the routes it names by path suffix (a
  route with no limit reads and bounds its body itself, as the archive's upload does);
- a declared ``Content-Length`` over the limit is refused at once with a 413 problem, one that
  is not a number with a 400 problem, before any byte of the body is read;
- a request whose declared length is within the limit passes untouched (the server reads
  exactly the declared bytes);
- a streamed (chunked) body is cut off as soon as it passes the limit: the route reading it
  gets ``BodyTooLarge`` (a 413 problem through the app's handlers), and a service layer that
  reads bodies in front of the router gets the same 413 from this layer, as long as nothing
  was answered yet; the answers of this layer are never stored by a cache (``no-store``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.http.problems import problem_response

DEFAULT_MAX_BODY_BYTES = 128 * 1024
TOO_LARGE = "The request body is too large"
NO_STORE = {"Cache-Control": "no-store"}


class BodyTooLarge(HTTPException):
    """Raised while a streamed body is read past its limit; answered as a 413 problem."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE, headers=NO_STORE)


@dataclass(frozen=True)
class BodyLimits:
    """A service's body limits: ``default`` bytes, or the limit of the first ``by_suffix``
    entry whose key ends the request path (``None``: the route bounds its body itself)."""

    default: int = DEFAULT_MAX_BODY_BYTES
    by_suffix: Mapping[str, int | None] = field(default_factory=dict)

    def limit_for(self, path: str) -> int | None:
        for suffix, limit in self.by_suffix.items():
            if path.endswith(suffix):
                return limit
        return self.default


class BodySizeLimit:
    """ASGI layer applying ``BodyLimits`` to every HTTP request."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if not declared.isdigit():
                await _refuse(scope, receive, send, 400, "request.bad", "Bad Content-Length")
                return
            if int(declared) > limit:
                await _refuse(scope, receive, send, 413, "request.too-large", TOO_LARGE)
                return
            await self.app(scope, receive, send)  # the server reads exactly the declared length
            return
        received = 0
        answered = False

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def watched(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, watched)
        except BodyTooLarge:
            if answered:
                raise
            await _refuse(scope, receive, send, 413, "request.too-large", TOO_LARGE)


def _content_length(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return bytes(value)
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, title: str
) -> None:
    response = problem_response(status, code, title, instance=scope["path"], headers=NO_STORE)
    await response(scope, receive, send)
