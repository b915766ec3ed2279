"""Request body size limits, enforced before a body is read into memory.

Rules: a JSON request body is at most 64 KiB, a SAML form post at most 300 kB; a declared
``Content-Length`` over the limit (or not a number) is refused at once with a 413 (400)
problem, and a streamed body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from common.http.problems import problem_response
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_BYTES = 64 * 1024
MAX_SAML_FORM_BYTES = 300_000
SAML_ACS_SUFFIX = "/acs"


class BodyTooLarge(HTTPException):
    """Raised while a streamed body is read; FastAPI's handlers turn it into a 413 problem."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large")


def limit_for(path: str) -> int:
    if path.startswith("/v1/sso/") and path.endswith(SAML_ACS_SUFFIX):
        return MAX_SAML_FORM_BYTES
    return MAX_JSON_BYTES


class BodySizeLimit:
    """ASGI middleware applying ``limit_for`` to every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, receive, send, 400, "request.bad", "Bad Content-Length")
                return
            if int(declared) > limit:
                await self._refuse(
                    scope, receive, send, 413, "request.too-large", "The request body is too large"
                )
                return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, bounded, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, code: str, title: str
    ) -> None:
        response = problem_response(status, code, title, instance=scope["path"])
        await response(scope, receive, send)
