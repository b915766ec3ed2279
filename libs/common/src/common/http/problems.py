"""RFC 9457 problem details for every error a client can see.

Rules: every error response is ``application/problem+json`` with a stable machine-readable
``code``, a ``title`` and a ``detail`` written for humans; request validation errors list field
paths and messages, never the submitted values; an unexpected error is a generic 500 that
reveals nothing, while the full error goes to the log. Every 401 carries a
``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3), with ``error="invalid_token"`` when a
presented token was refused; a 403 for a missing scope says ``error="insufficient_scope"``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.errors import CoffreError, TooManyRequests
from common.logging import get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://coffre.dev/problems/"

log = get_logger(__name__)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def bearer_challenge(status: int, error: str | None = None, description: str = "") -> str | None:
    """The ``WWW-Authenticate`` value for an answer: always for a 401, else only with an error."""
    if error is None:
        return "Bearer" if status == 401 else None
    text = "".join(ch for ch in description if " " <= ch <= "~" and ch not in '"\\')
    return f'Bearer error="{error}", error_description="{text}"'


async def _coffre_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CoffreError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    challenge = bearer_challenge(exc.status, exc.bearer_error, exc.title)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    safe_ext = {
        k: v for k, v in exc.extensions.items() if isinstance(v, str | int | float | bool | list)
    }
    if exc.status >= 500:
        log.error("request_failed", error_code=exc.code, path=request.url.path)
    return problem_response(
        exc.status,
        exc.code,
        exc.title,
        exc.message,
        instance=request.url.path,
        headers=headers,
        **safe_ext,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(request, exc)


def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad field and why, never the submitted values."""
    errors = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
            "message": err.get("msg", "invalid"),
        }
        for err in exc.errors()[:20]
    ]
    return problem_response(
        422,
        "request.invalid",
        "The request is not valid",
        "One or more fields are missing or malformed.",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        400: "request.bad",
        401: "auth.unauthenticated",
        403: "auth.forbidden",
        404: "resource.not-found",
        405: "request.method-not-allowed",
        413: "request.too-large",
        415: "request.unsupported-media-type",
    }
    code = codes.get(exc.status_code, f"http.{exc.status_code}")
    title = str(exc.detail) if isinstance(exc.detail, str) else "HTTP error"
    headers = dict(getattr(exc, "headers", None) or {})
    challenge = bearer_challenge(exc.status_code)
    if challenge is not None and "www-authenticate" not in {k.lower() for k in headers}:
        headers["WWW-Authenticate"] = challenge
    return problem_response(
        exc.status_code, code, title, instance=request.url.path, headers=headers or None
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("request_crashed", error=type(exc).__name__, path=request.url.path)
    return problem_response(
        500,
        "server.error",
        "Internal error",
        "The request could not be completed.",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CoffreError, _coffre_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
