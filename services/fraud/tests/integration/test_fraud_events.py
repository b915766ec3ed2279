from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from coffre_testing.kafka import collect, header
from coffre_testing.waiting import eventually
from common.events import DEAD_LETTER_TOPIC
from common.events.aggregation import TransactionIngested
from common.events.auth import LoginSucceeded, UserRegistered
from common.events.erasure import ErasureCompleted, ErasureRequested
from common.events.fraud import FraudAlertRaised, SecurityReportReady, TransactionScored
from common.events.payments import PaymentInitiated
from fraud.settings import FraudSettings
from fraud_harness import Events, decide, payment_body
from fraud_it_conftest import RunningFraud, Starter

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _member() -> tuple[uuid.UUID, str]:
    user = uuid.uuid4()
    return user, f"acct-{user.hex[:12]}"


def _transaction(user: uuid.UUID, account: str, n: int, **changes: object) -> TransactionIngested:
    fields: dict[str, object] = {
        "user_id": str(user),
        "account_ref": account,
        "transaction_ref": f"txn-{user.hex[:8]}-{n:04d}",
        "label": "card purchase",
        "booking_date": date.today(),
        "amount": "-12.50",
        "currency": "EUR",
        "status": "booked",
    }
    fields.update(changes)
    return TransactionIngested.model_validate(fields)


def _mine(subject: str):  # type: ignore[no-untyped-def]
    return lambda record: json.loads(record.value)["subject"] == subject


async def _register(events: Events, user: uuid.UUID, fraud: RunningFraud) -> None:
    """Register a member and wait until fraud knows them (topics are not ordered together)."""
    await events.send(UserRegistered(user_id=user, method="password"), subject=str(user))
    db = fraud.container.runtime.db  # type: ignore[union-attr]

    async def known() -> bool:
        found = await db.fetchval("SELECT 1 FROM members WHERE owner_ref = $1", str(user))
        return found is not None

    await eventually(known, timeout=30)


async def _scored(fraud: RunningFraud, count: int, owner: uuid.UUID) -> None:
    db = fraud.container.runtime.db  # type: ignore[union-attr]

    async def done() -> bool:
        found = await db.fetchval("SELECT count(*) FROM scores WHERE owner_ref = $1", str(owner))
        return int(found) >= count

    await eventually(done, timeout=30)


async def test_poison_events_are_dead_lettered_while_scoring_goes_on(
    fraud: RunningFraud, infra
) -> None:
    user, account = _member()
    stranger, stranger_account = _member()
    async with Events(infra.bootstrap_servers) as events:
        await _register(events, user, fraud)
        await events.send(_transaction(user, account, 1), subject=str(user), key=account)
        bad_currency = _transaction(user, account, 2, currency="XXX")
        await events.send(bad_currency, subject=str(user), key=account)
        absurd = _transaction(user, account, 3, amount="-999999999999")
        await events.send(absurd, subject=str(user), key=account)
        unknown = _transaction(stranger, stranger_account, 1)
        await events.send(unknown, subject=str(stranger), key=stranger_account)
        envelope = json.loads(
            (await events.send(_transaction(user, account, 4), subject=str(user))).model_dump_json()
        )
        del envelope["payload"]["account_ref"]
        envelope["event_id"] = str(uuid.uuid4())
        await events.send_raw(TransactionIngested.topic(), envelope, key=account)
        await events.send(_transaction(user, account, 5), subject=str(user), key=account)
    await _scored(fraud, 3, user)
    scored = await collect(
        infra.bootstrap_servers, TransactionScored.topic(), count=3, where=_mine(str(user))
    )
    refs = sorted(json.loads(r.value)["payload"]["activity_ref"] for r in scored)
    assert refs == [f"txn-{user.hex[:8]}-{n:04d}" for n in (1, 4, 5)]
    group = fraud.settings.consumer_group_prefix
    dead = await collect(
        infra.bootstrap_servers,
        DEAD_LETTER_TOPIC,
        count=4,
        where=lambda r: header(r, "x-dlq-consumer") == f"{group}.activity",
    )
    codes = sorted(header(r, "x-dlq-code") or "" for r in dead)
    assert codes == sorted(["bad-currency", "absurd-amount", "invalid-payload"])


async def test_transaction_before_its_owners_registration_is_scored_not_dead_lettered(
    fraud: RunningFraud, infra
) -> None:
    user, account = _member()
    async with Events(infra.bootstrap_servers) as events:
        first = _transaction(user, account, 1)
        await events.send(first, subject=str(user), key=account)
        db = fraud.container.runtime.db  # type: ignore[union-attr]

        async def parked() -> bool:
            found = await db.fetchval(
                "SELECT count(*) FROM parked_events WHERE owner_ref = $1", str(user)
            )
            return int(found) == 1

        await eventually(parked, timeout=30)
        await _register(events, user, fraud)
    await _scored(fraud, 1, user)
    scored = await collect(
        infra.bootstrap_servers, TransactionScored.topic(), count=1, where=_mine(str(user))
    )
    assert json.loads(scored[0].value)["payload"]["account_ref"] == account
    left = "SELECT count(*) FROM parked_events WHERE owner_ref = $1"
    assert await db.fetchval(left, str(user)) == 0
    assert await db.fetchval("SELECT owner_ref FROM accounts WHERE account_ref = $1", account) == (
        str(user)
    )
    group = fraud.settings.consumer_group_prefix
    dead = await collect(
        infra.bootstrap_servers,
        DEAD_LETTER_TOPIC,
        count=1,
        timeout=2,
        where=lambda r: str(user).encode() in (r.value or b""),
    )
    assert dead == [], f"{group}.activity dead-lettered a transaction of a member registered late"


async def test_initiated_payments_are_scored_and_alerts_published(
    fraud: RunningFraud, infra
) -> None:
    user, account = _member()
    start = datetime.now(UTC) - timedelta(minutes=10)
    async with Events(infra.bootstrap_servers) as events:
        await _register(events, user, fraud)
        for i in range(6):
            payment = PaymentInitiated(
                payment_id=f"ct-{i}-{user.hex[:8]}",
                account_ref=account,
                amount="1.00",
                currency="EUR",
                payee_ref="payee-0000000001",
                initiated_at=start + timedelta(seconds=20 * i),
            )
            await events.send(payment, subject=str(user), key=account)
    alerts = await collect(
        infra.bootstrap_servers, FraudAlertRaised.topic(), count=3, where=_mine(str(user))
    )
    assert len(alerts) >= 3
    assert json.loads(alerts[0].value)["payload"]["reasons"][0]["code"] == "card_testing"
    body = payment_body(f"ct-5-{user.hex[:8]}", str(user), account, amount="1.00")
    body["initiated_at"] = (start + timedelta(seconds=100)).isoformat()
    asked = await decide(fraud.client, fraud.services.headers(), body)
    assert asked.status_code == 200
    assert asked.json()["decision"] == "block"


async def test_account_history_survives_a_restart(
    fraud_settings: FraudSettings, start_fraud: Starter
) -> None:
    user, account = str(uuid.uuid4()), f"acct-{uuid.uuid4().hex[:12]}"
    start = datetime.now(UTC) - timedelta(minutes=5)

    def body(i: int) -> dict[str, object]:
        at = (start + timedelta(seconds=20 * i)).isoformat()
        return payment_body(f"r-{i}-{user[:8]}", user, account, amount="1.00", initiated_at=at)

    async with start_fraud(fraud_settings) as first:
        await first.container.runtime.db.fetchval(  # type: ignore[union-attr]
            "INSERT INTO members (owner_ref) VALUES ($1) RETURNING 1", user
        )
        for i in range(3):
            response = await decide(first.client, first.services.headers(), body(i))
            assert response.json()["decision"] == "pass"
    async with start_fraud(fraud_settings) as second:
        decisions = [
            (await decide(second.client, second.services.headers(), body(i))).json()
            for i in range(3, 6)
        ]
    assert decisions[-1]["decision"] == "block"
    assert decisions[-1]["reasons"][0]["value"] == 6


async def test_member_gets_a_weekly_report_as_json_and_pdf(fraud: RunningFraud, infra) -> None:
    user, account = _member()
    async with Events(infra.bootstrap_servers) as events:
        await _register(events, user, fraud)
        for agent in ("phone-app/1.0", "phone-app/1.0", "laptop-browser/99"):
            login = LoginSucceeded(
                user_id=user,
                session_id=uuid.uuid4(),
                methods=["pwd", "otp"],
                scope="member",
                user_agent=agent,
            )
            await events.send(login, subject=str(user))
        await events.send(_transaction(user, account, 1), subject=str(user), key=account)
    db = fraud.container.runtime.db  # type: ignore[union-attr]

    async def seen() -> bool:
        owner = str(user)
        logged = await db.fetchval("SELECT count(*) FROM security_events WHERE owner_ref=$1", owner)
        scored = await db.fetchval("SELECT count(*) FROM scores WHERE owner_ref = $1", owner)
        return int(logged) == 3 and int(scored) == 1

    await eventually(seen, timeout=30)
    week = date.today().isocalendar()
    label = f"{week.year}-W{week.week:02d}"
    headers = fraud.tokens.access(str(user))
    made = await fraud.client.post("/v1/reports", json={"week": label}, headers=headers)
    assert made.status_code == 200, made.text
    report = made.json()
    assert (report["logins"], report["new_devices"], len(report["daily"])) == (3, 1, 7)
    pdf = await fraud.client.get(f"/v1/reports/{report['report_id']}/pdf", headers=headers)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    other = await fraud.client.get(
        f"/v1/reports/{report['report_id']}", headers=fraud.tokens.access(str(uuid.uuid4()))
    )
    assert other.status_code == 404
    ready = await collect(
        infra.bootstrap_servers, SecurityReportReady.topic(), count=1, where=_mine(str(user))
    )
    assert json.loads(ready[0].value)["payload"]["week"] == label
    future = await fraud.client.post("/v1/reports", json={"week": "2999-W01"}, headers=headers)
    assert future.json()["code"] == "fraud.week-invalid"


async def test_erasure_request_is_answered_with_proof_and_leaves_no_account_changes(
    fraud: RunningFraud, infra
) -> None:
    user, account = _member()
    db = fraud.container.runtime.db  # type: ignore[union-attr]
    changes = "SELECT count(*) FROM account_changes WHERE account_ref = $1"
    async with Events(infra.bootstrap_servers) as events:
        await _register(events, user, fraud)
        await events.send(_transaction(user, account, 1), subject=str(user), key=account)
        await _scored(fraud, 1, user)
        assert await db.fetchval(changes, account) == 1
        request = ErasureRequested(
            user_id=str(user), requested_at=datetime.now(UTC), request_id="req-1"
        )
        await events.send(request, subject=str(user))
    done = await collect(
        infra.bootstrap_servers, ErasureCompleted.topic(), count=1, where=_mine(str(user))
    )
    proof = json.loads(done[0].value)["payload"]
    assert (proof["service"], proof["proof"]["accounts"]) == ("fraud", 1)
    assert proof["proof"]["account_changes"] == 1
    assert await db.fetchval(changes, account) == 0
    assert await db.fetchval("SELECT count(*) FROM scores WHERE owner_ref = $1", str(user)) == 0


async def test_a_late_transaction_of_an_erased_member_is_dropped_not_stored(
    fraud: RunningFraud, infra
) -> None:
    user, account = _member()
    other, other_account = _member()
    async with Events(infra.bootstrap_servers) as events:
        await _register(events, user, fraud)
        await _register(events, other, fraud)
        await events.send(_transaction(user, account, 1), subject=str(user), key=account)
        await _scored(fraud, 1, user)
        request = ErasureRequested(
            user_id=str(user), requested_at=datetime.now(UTC), request_id="req-late"
        )
        await events.send(request, subject=str(user))
        await collect(
            infra.bootstrap_servers, ErasureCompleted.topic(), count=1, where=_mine(str(user))
        )
        await events.send(_transaction(user, account, 2), subject=str(user), key=account)
        late_marker = _transaction(other, other_account, 1)
        await events.send(late_marker, subject=str(other), key=account)  # same partition
    await _scored(fraud, 1, other)  # sent after the late one: that one was handled
    db = fraud.container.runtime.db  # type: ignore[union-attr]
    for table in ("scores", "parked_events", "accounts"):
        query = f"SELECT count(*) FROM {table} WHERE account_ref = $1"
        assert await db.fetchval(query, account) == 0, table
    assert await db.fetchval("SELECT count(*) FROM scores WHERE owner_ref = $1", str(user)) == 0
