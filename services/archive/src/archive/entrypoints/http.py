"""Archive's member API: thin routes over the use cases.

Rule: each route authenticates the member, parses input, calls one use case and shapes the
answer; every error is an RFC 9457 problem with a stable code; documents are never cached.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from archive.container import Container
from archive.domain.files import clean_filename
from archive.domain.receipts import Receipt, Source, Status
from archive.entrypoints import schemas as s
from archive.entrypoints.members import Member
from archive.entrypoints.multipart import read_upload
from archive.service import intake, members, processing, retrieval, uploads

router = APIRouter(prefix="/v1/receipts", tags=["archive"])
NO_STORE = {"Cache-Control": "no-store"}
CHUNK = 64 * 1024
REPLAYED = "Idempotent-Replayed"


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def current_member(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Member:
    return await container(request).members.authenticate(authorization)


CurrentMember = Annotated[Member, Depends(current_member)]


@router.post(
    "",
    status_code=201,
    response_model=s.ReceiptOut,
    responses={202: {}},
    openapi_extra={"requestBody": s.UPLOAD_REQUEST_BODY},
)
async def upload_receipt(
    member: CurrentMember,
    request: Request,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Upload one receipt (multipart field `file`; optional `transaction_ref`, `payment_id`,
    `amount`, `currency`, `date`). 201 when sealed and stored; 202 when it waits for a retry.
    With an `Idempotency-Key`, the same upload sent again is answered with the receipt the
    first one stored (`Idempotent-Replayed: true`), never archived twice."""
    c = container(request)
    given_key = uploads.checked_key(idempotency_key)
    upload = await read_upload(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
        c.settings.max_upload_bytes,
    )
    filename = clean_filename(upload.filename)
    content = bytes(upload.content)
    key = None
    if given_key is not None:
        key = uploads.upload_key(member.user_id, given_key, content, filename, upload.fields)
    earlier = await uploads.replayed(c.ctx, key) if key is not None else None
    if earlier is not None:
        return await _replay(c, member.user_id, earlier)
    item = intake.Incoming(
        user_id=member.user_id,
        source=Source.UPLOAD,
        filename=filename,
        content_type=upload.content_type,
        content=content,
        hints=s.hints_from(upload.fields),
    )
    try:
        [accepted] = await intake.accept(c.ctx, [item], key)
    except uploads.AlreadyUploaded as raced:
        return await _replay(c, member.user_id, raced.receipt_id)
    receipt_id = accepted.receipt.receipt_id
    receipt = await processing.process_receipt(c.ctx, receipt_id, accepted)
    if receipt is None:  # erased meanwhile: answer as for any receipt not found
        receipt = await retrieval.own_receipt(c.ctx, member.user_id, receipt_id)
    return _receipt_response(receipt, replayed=False)


async def _replay(c: Container, user_id: str, receipt_id: uuid.UUID) -> JSONResponse:
    """The receipt an earlier upload under the same key stored, as it is now."""
    receipt = await retrieval.own_receipt(c.ctx, user_id, receipt_id)
    return _receipt_response(receipt, replayed=True)


def _receipt_response(receipt: Receipt, *, replayed: bool) -> JSONResponse:
    """201 with the sealed receipt, 202 with one still waiting for its seal or its storage."""
    body = s.ReceiptOut.of(receipt).model_dump(mode="json")
    code = 201 if receipt.status is Status.SEALED else 202
    headers = {"Location": f"/v1/receipts/{receipt.receipt_id}"}
    if replayed:
        headers[REPLAYED] = "true"
    return JSONResponse(body, status_code=code, headers=headers)


@router.get("", response_model=s.ReceiptsOut)
async def list_receipts(
    member: CurrentMember, request: Request, unmatched: Annotated[bool, Query()] = False
) -> s.ReceiptsOut:
    """The member's receipts, newest first; `unmatched=true` lists those not yet attached."""
    c = container(request)
    async with c.ctx.uow() as uow:
        found = await uow.receipts.of_member(member.user_id, unmatched_only=unmatched)
    return s.ReceiptsOut(receipts=[s.ReceiptOut.of(r) for r in found])


@router.get("/address", response_model=s.AddressOut)
async def receipts_address(member: CurrentMember, request: Request) -> s.AddressOut:
    """The member's personal address for forwarding receipts by e-mail."""
    return s.AddressOut(
        address=await members.receipts_address(container(request).ctx, member.user_id)
    )


@router.get("/{receipt_id}", response_class=StreamingResponse)
async def download_receipt(
    receipt_id: uuid.UUID, member: CurrentMember, request: Request
) -> StreamingResponse:
    """The sealed PDF (the member's own receipts only)."""
    doc = await retrieval.read_sealed(container(request).ctx, member.user_id, receipt_id)

    async def chunks() -> object:
        for start in range(0, len(doc.pdf), CHUNK):
            yield doc.pdf[start : start + CHUNK]

    name = f"receipt-{receipt_id}.pdf"
    headers = NO_STORE | {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Length": str(len(doc.pdf)),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(chunks(), media_type="application/pdf", headers=headers)  # type: ignore[arg-type]


@router.get("/{receipt_id}/verification", response_model=s.VerificationOut)
async def verify_receipt(
    receipt_id: uuid.UUID, member: CurrentMember, request: Request, response: Response
) -> s.VerificationOut:
    """A validation report of the seal and of the stored copy against the record."""
    receipt, report = await retrieval.verify(container(request).ctx, member.user_id, receipt_id)
    response.headers.update(NO_STORE)
    return s.VerificationOut.of(receipt, report)
