"""Errors on the wire, in Berlin Group's shape: `{"tppMessages":[{category, code, text}]}`.

Rules: each domain error class has one status (400 FORMAT_ERROR, 401 CONSENT_INVALID and
CONSENT_EXPIRED, 403 CONSENT_UNKNOWN, 404 RESOURCE_UNKNOWN, 405 SERVICE_INVALID, 429
ACCESS_EXCEEDED with Retry-After); request validation failures are FORMAT_ERROR; unknown paths
are RESOURCE_UNKNOWN and wrong methods SERVICE_INVALID.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox_bank.domain import errors

STATUS: dict[type[errors.SandboxError], int] = {
    errors.FormatError: 400,
    errors.ConsentInvalid: 401,
    errors.ConsentExpired: 401,
    errors.PsuCredentialsInvalid: 401,
    errors.ConsentUnknown: 403,
    errors.ResourceUnknown: 404,
    errors.ServiceInvalid: 405,
    errors.AccessExceeded: 429,
}
HTTP_CODES = {404: "RESOURCE_UNKNOWN", 405: "SERVICE_INVALID"}


def error_response(
    status_code: int, code: str, text: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A Berlin Group error body."""
    body = {"tppMessages": [{"category": "ERROR", "code": code, "text": text}]}
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _sandbox_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.SandboxError)
    headers = None
    if isinstance(exc, errors.AccessExceeded):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return error_response(STATUS.get(type(exc), 500), exc.code, exc.text, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    ]
    return error_response(400, "FORMAT_ERROR", "; ".join(problems) or "malformed request")


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "FORMAT_ERROR")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


def install(app: FastAPI) -> None:
    """Route every error through the Berlin Group shape."""
    app.add_exception_handler(errors.SandboxError, _sandbox_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
