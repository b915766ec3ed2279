"""Cross-cutting HTTP behaviour: planned faults, and echoing X-Request-ID.

Rules: a planned fault hits a request before routing (see `domain.faults` for what each kind
does); every response to a request that carried X-Request-ID carries it back.
"""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from sandbox_bank.api.errors import error_response
from sandbox_bank.domain.faults import Fault, FaultKind, FaultPlan

Next = Callable[[Request], Awaitable[Response]]


def install(app: FastAPI, faults: FaultPlan) -> None:
    """Add the fault and request-id middleware to the app."""

    @app.middleware("http")
    async def inject_faults(request: Request, call_next: Next) -> Response:
        fault = faults.take(request.url.path)
        response = await _serve(fault, request, call_next)
        request_id = request.headers.get("X-Request-ID")
        if request_id is not None:
            response.headers["X-Request-ID"] = request_id
        return response


async def _serve(fault: Fault | None, request: Request, call_next: Next) -> Response:
    if fault is None:
        return await call_next(request)
    if fault.kind == FaultKind.SLOW:
        await asyncio.sleep(fault.delay_seconds)
        return await call_next(request)
    if fault.kind == FaultKind.MALFORMED:
        return await _malformed(await call_next(request))
    if fault.kind == FaultKind.LOST_RESPONSE:
        return await _lost(await call_next(request))
    status = 500 if fault.kind == FaultKind.ERROR_500 else 503
    headers = None
    if fault.retry_after_seconds is not None:
        headers = {"Retry-After": str(fault.retry_after_seconds)}
    code = "INTERNAL_SERVER_ERROR" if status == 500 else "SERVICE_UNAVAILABLE"
    return error_response(status, code, "sandbox fault injected", headers)


async def _lost(response: Response) -> Response:
    """The work is done (the body is read to its end), then the answer is lost: a 502."""
    _ = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
    return error_response(502, "BAD_GATEWAY", "sandbox fault injected: the response was lost")


async def _malformed(response: Response) -> Response:
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    truncated = b"{" + body[1 : max(1, len(body) // 2)]
    status = 200 if response.status_code == 204 else response.status_code
    return Response(truncated, status_code=status, media_type="application/json")
