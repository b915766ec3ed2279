"""Request and response bodies of the vault's HTTP API; binary values travel as base64url."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vault.domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
B64 = Field(max_length=96 * 1024, description="base64url, padding optional")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64u(text: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not base64url", field=field) from None


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def from_b64u_or_empty(text: str) -> bytes:
    """``from_b64u`` without raising (what ``base64.urlsafe_b64decode`` does, minus its layers:
    a batch decodes one per key); bad base64 becomes an empty token, which that item's unwrap
    refuses as not a token."""
    try:
        padded = (text + "=" * (-len(text) % 4)).encode("ascii")
        return binascii.a2b_base64(padded.translate(_FROM_URLSAFE))
    except (binascii.Error, ValueError):
        return b""


def parse_body(model: type[M], body: bytes) -> M:
    """The body validated straight from its bytes (no ``json.loads`` then a second walk); a bad
    one is the same 422 ``request.invalid`` problem FastAPI answers for a declared body."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def json_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads its body itself (``parse_body``): the
    model's schema with its nested models written in place."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretIn(_In):
    value: str | None = Field(None, max_length=96 * 1024, description="The value, base64url.")
    sealed: str | None = Field(
        None, max_length=96 * 1024, description="A client-sealed envelope, base64url."
    )


class StoredOut(BaseModel):
    subject: str
    purpose: str
    secret_id: str
    key_id: str = Field(description="Id of the subject's data key that encrypts the secret.")
    key_version: int


class ValueOut(BaseModel):
    value: str = Field(description="The secret's value, base64url.")


class DataKeyIn(_In):
    purpose: str = Field(max_length=64)


class DestroyedOut(BaseModel):
    destroyed: int = Field(description="How many data keys of the subject were destroyed.")


class UnwrapIn(_In):
    purpose: str = Field(max_length=64)
    wrapped: str = Field(max_length=1024, description="The wrapped key token, base64url.")


class UnwrapItemIn(_In):
    subject: str = Field(max_length=128)
    purpose: str = Field(max_length=64)
    wrapped: str = Field(max_length=1024, description="The wrapped key token, base64url.")


MAX_BATCH = 1000


class UnwrapBatchIn(_In):
    batch_input: list[UnwrapItemIn] = Field(
        min_length=1, max_length=MAX_BATCH, description="Wrapped keys to open, each audited."
    )


class ItemError(BaseModel):
    code: str = Field(description="The stable problem code, as a single call would answer.")
    status: int
    title: str


class UnwrapResult(BaseModel):
    document_key_id: str | None = None
    plaintext: str | None = Field(None, description="The AES-256 key, base64url.")
    error: ItemError | None = Field(None, description="Set instead when this item failed.")


class UnwrapBatchOut(BaseModel):
    batch_results: list[UnwrapResult] = Field(description="One result per input, in order.")


class DataKeyOut(BaseModel):
    document_key_id: str
    plaintext: str = Field(description="The AES-256 key, base64url: use it once and forget it.")
    wrapped: str | None = Field(None, description="Store this token beside the document.")


class GrantIn(_In):
    operator: str = Field(max_length=128, description="The named operator who will use it.")
    subject: str = Field(max_length=128)
    purpose: str = Field(max_length=64)
    secret_id: str = Field(max_length=128)
    reason: str = Field(max_length=500)
    consent_ref: str = Field(max_length=128, description="Reference of the member's consent.")
    ttl_seconds: int = Field(ge=1, le=86_400)
    max_uses: int = Field(ge=0, le=1000)


class GrantOut(BaseModel):
    grant_id: str
    operator: str
    subject: str
    purpose: str
    secret_id: str
    consent_ref: str
    expires_at: datetime
    max_uses: int
    uses: int
    ended_at: datetime | None
    end_reason: str | None


class HeadOut(BaseModel):
    seq: int
    hash: str


class PublicKeysOut(BaseModel):
    keys: list[dict[str, str]] = Field(description="JWKs of the active sealing keys.")


class ResealIn(_In):
    agent: str = Field(max_length=64, description="Name of a pinned agent key (VAULT_AGENT_KEYS).")
    bind: str = Field(
        max_length=128, description="What the new seal is bound to (the agent's authorisation id)."
    )


class SealedOut(BaseModel):
    sealed: str = Field(description="The envelope sealed for the agent, base64url.")
    kid: str = Field(description="The agent key it is sealed to.")
