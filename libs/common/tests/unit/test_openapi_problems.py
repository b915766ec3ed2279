"""Every operation of a service's OpenAPI document documents its problem answers as
``application/problem+json``, with no per-route declaration."""

from __future__ import annotations

from typing import Annotated

import pytest
from common.http.app import create_service_app
from common.runtime import Runtime
from common.settings import ServiceSettings
from fastapi import APIRouter, Header
from pydantic import BaseModel

pytestmark = pytest.mark.unit


class Body(BaseModel):
    name: str


def _document() -> dict:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def read(thing_id: int, authorization: Annotated[str | None, Header()] = None) -> dict:
        return {}

    @router.post("/things")
    async def create(body: Body) -> dict:
        return {}

    settings = ServiceSettings(service_name="example")
    app = create_service_app(settings, Runtime(settings), title="example", routers=[router])
    return app.openapi()


def test_every_operation_documents_problem_answers_as_problem_json() -> None:
    document = _document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            for status in ("400", "401", "403", "404", "409", "422", "429", "500", "503"):
                content = answers[status]["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)
    read = document["paths"]["/things/{thing_id}"]["get"]["responses"]
    assert read["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith(
        "/ValidationProblem"
    )
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["required"] == [
        "type", "title", "status", "code"
    ]  # fmt: skip


def test_body_answers_and_bearer_requirement_are_derived_from_the_route() -> None:
    paths = _document()["paths"]
    create = paths["/things"]["post"]["responses"]
    read = paths["/things/{thing_id}"]["get"]["responses"]
    assert {"413", "415"} <= set(create)
    assert not {"413", "415"} & set(read)
    assert "Authorization: Bearer" in read["401"]["description"]
    assert "Authorization: Bearer" not in create["401"]["description"]
