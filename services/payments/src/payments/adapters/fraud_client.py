"""Fraud's payment decisions over HTTP (``POST /v1/decisions``), with this service's identity.

Rule: fraud decides once per payment, so asking again returns the same decision (or the
analyst's settlement of a hold); any failure is ``FraudUnavailable`` and the payment waits.
"""

from __future__ import annotations

import httpx

from payments.domain.errors import FraudUnavailable
from payments.service.ports import DecisionRequest

_OUTCOMES = {"execute": "pass", "hold": "review", "refuse": "block"}


class HttpFraudClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def decide(self, request: DecisionRequest) -> str:
        body = {
            "payment_id": request.payment_id,
            "owner_ref": request.owner_ref,
            "account_ref": request.account_ref,
            "amount": request.amount,
            "currency": request.currency,
            "payee_ref": request.payee_ref,
            "initiated_at": request.initiated_at.isoformat(),
            "device_id": request.device_id,
        }
        try:
            response = await self._client.post("/v1/decisions", json=body)
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            raise FraudUnavailable("fraud could not be asked") from None
        if not isinstance(data, dict) or data.get("outcome") not in _OUTCOMES:
            status = response.status_code
            raise FraudUnavailable(f"fraud answered {status}", fraud_status=status)
        if data.get("status") == "released":
            return "released"
        return _OUTCOMES[str(data["outcome"])]
