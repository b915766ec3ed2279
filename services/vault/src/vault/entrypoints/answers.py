"""The answers of the unwrap routes written straight as JSON bytes.

Rule: a key's id (a UUID) and a base64url value need no JSON escaping, so an allowed item is one
formatted string; an error goes through the JSON encoder. The bytes are what FastAPI writes for
the routes' response models (``DataKeyOut``, ``UnwrapBatchOut``): same members, same order,
compact separators (unit tests hold them to the models).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from common.errors import CoffreError

from vault.entrypoints.schemas import b64u
from vault.service.datakeys import Unwrapped


def data_key_body(document_key_id: str, plaintext: str) -> bytes:
    """``DataKeyOut`` of an unwrap: the id and the key (base64url), no wrapped token."""
    text = f'{{"document_key_id":"{document_key_id}","plaintext":"{plaintext}","wrapped":null}}'
    return text.encode()


def unwrap_batch_body(results: Sequence[Unwrapped]) -> bytes:
    """``UnwrapBatchOut``: one result per item, in order."""
    out: list[str] = []
    for result in results:
        if isinstance(result, CoffreError):
            error = {"code": result.code, "status": result.status, "title": result.title}
            out.append(json.dumps({"document_key_id": None, "plaintext": None, "error": error},
                                  separators=(",", ":")))  # fmt: skip
        else:
            out.append(f'{{"document_key_id":"{result.document_key_id}","plaintext":"'
                       f'{b64u(result.plaintext)}","error":null}}')  # fmt: skip
    return ('{"batch_results":[' + ",".join(out) + "]}").encode()
