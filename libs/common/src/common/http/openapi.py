"""The problem answers of every route, written into the service's OpenAPI document.

Rules: every error a Coffre service answers is an RFC 9457 problem (``application/problem+json``,
schema ``Problem``; request validation errors are a ``ValidationProblem`` listing fields), and
the OpenAPI document says so for every operation, so that a client generated from it can read
them. What each operation documents:

- every operation: 400, 401, 403, 404, 409, 410, 422, 423 and 429, then 500, 502 and 503. Most
  of these come from domain errors raised by the service layer (a refused login is a 401 on a
  public route, an unknown id named in a body is a 404, a locked factor a 423), which a route's
  signature does not show, and the gateway may answer 401 or 429 on any route. Documenting an
  answer a route happens never to give costs a generated client nothing; an undocumented one
  breaks it. The ``code`` member says which problem it is.
- operations that take a request body: 413 (body too large) and 415 (not JSON) as well.
- the description of 401/403 says whether the operation requires a bearer token, derived from
  its parameters (an ``Authorization`` header, which FastAPI lists for every dependency too).

It is applied by ``create_service_app``: no route needs to declare anything.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from common.http.problems import PROBLEM_JSON

METHODS = ("get", "put", "post", "delete", "patch", "options", "head")
COMMON: dict[int, str] = {
    400: "The request is malformed.",
    401: "Not authenticated: credentials missing, expired or refused.",
    403: "Authenticated, but not allowed to do this.",
    404: "The resource does not exist (or is not the caller's).",
    409: "Conflicts with the resource's current state.",
    410: "The resource, link or code has expired.",
    422: "The request is well-formed but not valid.",
    423: "Locked for a while after too many failures.",
    429: "Too many requests: wait as long as the Retry-After header says.",
    500: "Unexpected error; nothing about it is revealed.",
    502: "An upstream service answered wrongly.",
    503: "A dependency (database, broker, vault, bank) is unreachable; try again later.",
}
WITH_BODY: dict[int, str] = {
    413: "The request body is too large.",
    415: "The request body is not in a supported media type (send application/json).",
}
BEARER_NOTE = " This operation requires an `Authorization: Bearer` token."

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the problem type."},
        "title": {"type": "string", "description": "Short human summary."},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "code": {"type": "string", "description": "Stable machine-readable code."},
        "detail": {"type": "string", "description": "Human explanation of this occurrence."},
        "instance": {"type": "string", "description": "The request path."},
    },
    "additionalProperties": True,
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "description": "Dotted path of the bad field."},
        "message": {"type": "string", "description": "Why it is refused (never its value)."},
    },
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A problem whose `errors` name each refused field.",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
            },
        },
    ],
}


def install_problem_documentation(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the problem answers of every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_problems(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Add the problem answers to every operation of an OpenAPI document (returned changed)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in document.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if operation is not None:
                _document_operation(operation, _reads_authorization(operation))
    return document


def _document_operation(operation: dict[str, Any], needs_token: bool) -> None:
    answers = operation.setdefault("responses", {})
    statuses = dict(COMMON)
    if "requestBody" in operation:
        statuses |= WITH_BODY
    for status, description in sorted(statuses.items()):
        if status in (401, 403) and needs_token:
            description += BEARER_NOTE
        schema = "ValidationProblem" if status == 422 else "Problem"
        answers[str(status)] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }


def _reads_authorization(operation: dict[str, Any]) -> bool:
    """Whether the operation (through any of its dependencies) takes an Authorization header."""
    return any(
        param.get("in") == "header" and str(param.get("name", "")).lower() == "authorization"
        for param in operation.get("parameters", [])
    )
