"""The two hot routes (single and batch unwrap) served as pure ASGI, in front of FastAPI's router.

Rules:
- Only a request that passes every check of the edge takes this path: ``POST`` on the route's
  exact URL, one ``content-type: application/json``, one service token the verifier accepts, no
  ``X-Coffre-Operator``, for a batch a caller the policy lets unwrap at all, and a body that
  validates against the route's own model (``UnwrapIn`` / ``UnwrapBatchIn``). Those checks have
  no side effect. Any request that fails one goes, with the body it sent, to the FastAPI route
  declared for the same URL, which refuses (and audits) it as it always has: permission before
  validation, one RFC 9457 problem per bad input, and the OpenAPI document stays that route's.
- An admitted request runs the same use case as the route and gets the route's answer byte for
  byte (same JSON, same headers; the app's ``no-store`` layer sits outside this one); a refusal
  from the use case goes through the app's own problem handlers. The scope names the FastAPI
  route, so the server span, the HTTP metrics and the audit name the same route template.
"""

from __future__ import annotations

from collections import deque
from inspect import isawaitable
from typing import Any

from common.errors import CoffreError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault.container import Container
from vault.domain.caller import Caller
from vault.domain.policy import Action
from vault.entrypoints import schemas as s
from vault.entrypoints.answers import data_key_body, unwrap_batch_body
from vault.entrypoints.http import router
from vault.service import datakeys

SINGLE = "/v1/subjects/{subject}/data-keys/unwrap"
BATCH = "/v1/data-keys/unwrap-batch"
_PREFIX, _SUFFIX = "/v1/subjects/", "/data-keys/unwrap"
_JSON = b"application/json"
_CALLERS: dict[str, Caller] = {}  # one frozen Caller per verified service name


class LeanUnwraps:
    """ASGI layer answering admitted unwrap requests itself; every other request passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, APIRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        template, subject = _hot_route(scope)
        if template is None:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        replay = _replaying(messages, receive)
        if body is None or not await self._serve(scope, replay, send, template, subject, body):
            await self.app(scope, replay, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, template: str, subject: str, body: bytes
    ) -> bool:
        """Answer the request if it is admitted; False (nothing sent) to hand it on."""
        route = self._route(template)
        container: Container = scope["app"].state.container
        who = _identified(scope, container)
        if route is None or who is None:
            return False
        answer = _single if template == SINGLE else _batch
        routed = {"route": route, "endpoint": route.endpoint, "path_params": _params(subject)}
        scope.update(routed)  # as the router would: spans, metrics and a crash name the route
        try:
            payload = await answer(container, who, body, subject)
        except CoffreError as exc:
            await _problem(scope, receive, send, exc)
            return True
        if payload is None:
            for key in routed:
                del scope[key]
            return False
        await send({"type": "http.response.start", "status": 200, "headers": _headers(payload)})
        await send({"type": "http.response.body", "body": payload})
        return True

    def _route(self, template: str) -> APIRoute | None:
        """The FastAPI route declared for the template (the one the app's router dispatches to)."""
        if self._routes is None:
            self._routes = {
                route.path: route
                for route in router.routes
                if isinstance(route, APIRoute) and route.path in (SINGLE, BATCH)
                and "POST" in (route.methods or ())
            }  # fmt: skip
        return self._routes.get(template)


async def _single(container: Container, who: Caller, body: bytes, subject: str) -> bytes | None:
    """The single unwrap's answer, or None when its body is not a valid ``UnwrapIn``."""
    try:
        asked = s.UnwrapIn.model_validate_json(body)
        wrapped = s.from_b64u(asked.wrapped, "wrapped")
    except (ValidationError, CoffreError):
        return None
    key = await datakeys.unwrap_data_key(container.ctx, who, subject, asked.purpose, wrapped)
    return data_key_body(key.document_key_id, s.b64u(key.plaintext))


async def _batch(container: Container, who: Caller, body: bytes, _: str) -> bytes | None:
    """The batch's answer, or None when the caller may not unwrap at all or its body is not a
    valid ``UnwrapBatchIn`` (the route refuses those, permission first)."""
    if not container.ctx.policy.allows_any(who.service, Action.UNWRAP_DATA_KEY):
        return None
    try:
        asked = s.UnwrapBatchIn.model_validate_json(body)
    except ValidationError:
        return None
    items = [
        datakeys.UnwrapItem(i.subject, i.purpose, s.from_b64u_or_empty(i.wrapped))
        for i in asked.batch_input
    ]
    return unwrap_batch_body(await datakeys.unwrap_many(container.ctx, who, items))


def _hot_route(scope: Scope) -> tuple[str | None, str]:
    """(template, subject) of a POST to one of the two routes (the router's own match: a path
    segment is anything but ``/``), or (None, "")."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
        return None, ""
    path: str = scope["path"]
    if path == BATCH:
        return BATCH, ""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        subject = path[len(_PREFIX) : -len(_SUFFIX)]
        if subject and "/" not in subject and len(path) > len(_PREFIX) + len(_SUFFIX):
            return SINGLE, subject
    return None, ""


def _identified(scope: Scope, container: Container) -> Caller | None:
    """The caller of a request with exactly one JSON content type and one service token the
    verifier accepts, and no operator header; None for any other request."""
    authorization: list[bytes] = []
    content_type: list[bytes] = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization.append(value)
        elif name == b"content-type":
            content_type.append(value)
        elif name == b"x-coffre-operator":
            return None
    if len(authorization) != 1 or len(content_type) != 1 or content_type[0].lower() != _JSON:
        return None
    try:
        name = container.verifier.verify(authorization[0].decode("latin-1")).name
        return _CALLERS.get(name) or _CALLERS.setdefault(name, Caller(name))
    except CoffreError:
        return None


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """Every message of the request body as received, and the body (None on a disconnect)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read again, then reads on."""
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


def _params(subject: str) -> dict[str, str]:
    return {"subject": subject} if subject else {}


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]


async def _problem(scope: Scope, receive: Receive, send: Send, exc: CoffreError) -> None:
    """The answer the app's own exception handler gives for ``exc``."""
    handlers: dict[Any, Any] = scope["app"].exception_handlers
    handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
    if handler is None:
        raise exc
    response: Any = handler(Request(scope, receive), exc)
    if isawaitable(response):
        response = await response
    assert isinstance(response, Response)
    await response(scope, receive, send)
