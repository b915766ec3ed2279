from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fraud.adapters.pg_uow import PgUnitOfWork
from fraud_harness import decide, payment_body
from fraud_it_conftest import ANALYST, RunningFraud

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _ids() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"user-{suffix}", f"acct-{suffix}"


async def _member(fraud: RunningFraud, owner: str) -> None:
    async with PgUnitOfWork(fraud.container.runtime.uow) as uow:  # type: ignore[union-attr]
        await uow.directory.add_member(owner)
        await uow.commit()


async def test_payments_gets_a_decision_with_reasons_once(fraud: RunningFraud) -> None:
    owner, account = _ids()
    await _member(fraud, owner)
    headers = fraud.services.headers("payments")
    body = payment_body("pay-1-" + owner, owner, account)
    first = await decide(fraud.client, headers, body)
    assert first.status_code == 200, first.text
    decided = first.json()
    assert (decided["decision"], decided["outcome"], decided["status"]) == (
        "pass",
        "execute",
        "cleared",
    )
    again = await decide(fraud.client, headers, body)
    assert again.json() == decided
    fetched = await fraud.client.get(f"/v1/decisions/{body['payment_id']}", headers=headers)
    assert fetched.json() == decided


async def test_decision_needs_the_payments_service(fraud: RunningFraud) -> None:
    owner, account = _ids()
    body = payment_body("pay-x", owner, account)
    missing = await decide(fraud.client, {}, body)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    other = await decide(fraud.client, fraud.services.headers("archive"), body)
    assert other.status_code == 403
    assert other.json()["code"] == "fraud.caller-not-allowed"
    member = await decide(fraud.client, fraud.tokens.access(owner), body)
    assert member.status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"currency": "XXX"}, "fraud.bad-currency"),
        ({"amount": "1e9"}, "fraud.malformed-field"),
        ({"amount": "5000000000"}, "fraud.absurd-amount"),
        ({"amount": "0.001"}, "fraud.absurd-amount"),
        ({"payee_ref": "FR7630006000011234567890189"}, "fraud.malformed-field"),
        ({"initiated_at": "2026-11-02T10:00:00"}, "fraud.malformed-field"),
        ({"unexpected": 1}, "request.invalid"),
    ],
)
async def test_bad_payment_is_a_4xx_problem_never_a_500(
    fraud: RunningFraud, change: dict[str, object], code: str
) -> None:
    owner, account = _ids()
    await _member(fraud, owner)
    body = payment_body("pay-bad-" + owner, owner, account) | change
    response = await decide(fraud.client, fraud.services.headers(), body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert "FR7630006000011234567890189" not in response.text


async def test_payment_of_an_unknown_member_is_refused(fraud: RunningFraud) -> None:
    owner, account = _ids()
    response = await decide(
        fraud.client, fraud.services.headers(), payment_body("p", owner, account)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "fraud.unknown-account"


async def test_same_payment_id_with_another_amount_is_a_conflict(fraud: RunningFraud) -> None:
    owner, account = _ids()
    await _member(fraud, owner)
    headers = fraud.services.headers()
    body = payment_body("pay-c-" + owner, owner, account)
    assert (await decide(fraud.client, headers, body)).status_code == 200
    changed = await decide(fraud.client, headers, body | {"amount": "9999.00"})
    assert changed.status_code == 409
    assert changed.json()["code"] == "fraud.decision-mismatch"


async def _card_testing(fraud: RunningFraud, owner: str, account: str) -> list[dict[str, object]]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    out = []
    for i in range(6):
        at = (start + timedelta(seconds=20 * i)).isoformat()
        body = payment_body(f"ct-{i}-{owner}", owner, account, amount="1.00", initiated_at=at)
        response = await decide(fraud.client, fraud.services.headers(), body)
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


async def test_analyst_releases_a_held_payment_and_it_is_audited(fraud: RunningFraud) -> None:
    owner, account = _ids()
    await _member(fraud, owner)
    decided = await _card_testing(fraud, owner, account)
    held = next(d for d in decided if d["status"] == "held")
    assert decided[-1]["outcome"] == "refuse"
    url = f"/v1/decisions/{held['payment_id']}/release"
    refused = await fraud.client.post(url, headers=fraud.tokens.access(owner))
    assert refused.status_code == 403
    assert refused.json()["code"] == "fraud.not-an-analyst"
    weak = await fraud.client.post(url, headers=fraud.tokens.access(ANALYST, methods=("pwd",)))
    assert weak.status_code == 403
    released = await fraud.client.post(url, headers=fraud.tokens.access(ANALYST))
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["outcome"]) == ("released", "execute")
    again = await fraud.client.post(url, headers=fraud.tokens.access(ANALYST))
    assert again.status_code == 409
    db = fraud.container.runtime.db  # type: ignore[union-attr]
    rows = await db.fetch("SELECT actor_id, action, target FROM audit_log ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (ANALYST, "alert.legitimate", held["alert_id"]),
        (ANALYST, "payment.released", held["payment_id"]),
    ]
    assert await db.fetchval("SELECT version FROM model_state") == 1


async def test_analyst_lists_alerts_and_gives_verdicts(fraud: RunningFraud) -> None:
    owner, account = _ids()
    await _member(fraud, owner)
    await _card_testing(fraud, owner, account)
    headers = fraud.tokens.access(ANALYST)
    page = await fraud.client.get("/v1/alerts?status=open&limit=2", headers=headers)
    assert page.status_code == 200, page.text
    alerts = page.json()["alerts"]
    assert len(alerts) == 2
    assert alerts[0]["reasons"][0]["code"] == "card_testing"
    before = page.json()["next_before"]
    rest = await fraud.client.get("/v1/alerts", params={"before": before}, headers=headers)
    assert {a["alert_id"] for a in rest.json()["alerts"]}.isdisjoint(a["alert_id"] for a in alerts)
    alert_id = alerts[0]["alert_id"]
    url = f"/v1/alerts/{alert_id}/verdict"
    marked = await fraud.client.post(url, json={"verdict": "fraud"}, headers=headers)
    assert marked.status_code == 200
    assert (marked.json()["verdict"], marked.json()["analyst_id"]) == ("fraud", ANALYST)
    twice = await fraud.client.post(url, json={"verdict": "legitimate"}, headers=headers)
    assert twice.json()["code"] == "fraud.alert-already-resolved"
    bad = await fraud.client.post(url, json={"verdict": "maybe"}, headers=headers)
    assert bad.status_code == 422
    missing = await fraud.client.get("/v1/alerts/nope", headers=headers)
    assert missing.status_code == 404
    anonymous = await fraud.client.get("/v1/alerts")
    assert anonymous.status_code == 401
