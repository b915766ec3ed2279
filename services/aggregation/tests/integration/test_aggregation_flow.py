"""The whole path over real HTTP, Postgres, Kafka and vault: connect, sync, feed, events."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aggregation_it_conftest import AGENT_TIMEOUT, Stack
from coffre_testing.kafka import collect
from coffre_testing.waiting import eventually
from common.events import Envelope
from common.events.aggregation import TransactionIngested, TransactionUpdated

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def envelope(record: Any) -> Envelope:
    return Envelope.model_validate_json(record.value)


async def _synced(stack: Stack, member: str) -> dict[str, Any]:
    connection = await stack.connect(member)
    assert connection["status"] == "active"
    await stack.container.idle()
    return connection


async def test_member_connects_and_every_transaction_reaches_feed_and_kafka_once(
    stack: Stack, member: str, infra: Any
) -> None:
    connection = await _synced(stack, member)
    expected = await stack.bank.transaction_count(member)
    changes, _ = await stack.feed(member)
    assert len(changes["added"]) == expected
    assert len({t["transaction_ref"] for t in changes["added"]}) == expected
    records = await collect(
        infra.bootstrap_servers, TransactionIngested.topic(), count=expected, timeout=30,
        where=lambda r: member.encode() in r.value,
    )  # fmt: skip
    assert len(records) == expected
    refs = {a["account_ref"] for a in connection["accounts"]}
    for record in records:
        env = envelope(record)
        assert env.subject == member
        assert record.key.decode() == env.payload["account_ref"]
        assert env.payload["account_ref"] in refs
    listed = await stack.client.get("/v1/connections", headers=stack.headers(member))
    assert [c["status"] for c in listed.json()["connections"]] == ["active"]


async def test_pending_that_books_is_one_update_on_kafka_and_modified_in_the_feed(
    stack: Stack, member: str, infra: Any
) -> None:
    connection = await _synced(stack, member)
    _, cursor = await stack.feed(member)
    account = connection["accounts"][0]
    (row,) = await stack.db.fetch(
        "SELECT resource_id FROM accounts WHERE account_ref = $1", account["account_ref"]
    )
    body = {"amount": "-18.20", "counterpartyName": "Cafe Pending", "bookingStatus": "pending"}
    await stack.bank.control(
        "POST", f"/sandbox/accounts/{row['resource_id']}/transactions", json=body
    )
    refresh = f"/v1/connections/{connection['connection_id']}/refresh"
    first = await stack.client.post(refresh, headers=stack.headers(member))
    assert first.json()["added"] == 1
    await stack.bank.control("POST", f"/sandbox/accounts/{row['resource_id']}/book-pending")
    second = await stack.client.post(refresh, headers=stack.headers(member))
    assert (second.json()["added"], second.json()["modified"]) == (0, second.json()["modified"])
    assert second.json()["modified"] >= 1
    changes, _ = await stack.feed(member, cursor)
    (added,) = changes["added"]
    assert added["label"] == "CAFE PENDING"
    assert added["status"] == "booked"
    updates = await collect(
        infra.bootstrap_servers, TransactionUpdated.topic(), count=1, timeout=20,
        where=lambda r: added["transaction_ref"].encode() in r.value,
    )  # fmt: skip
    assert [envelope(u).payload["previous_status"] for u in updates] == ["pending"]
    ingested = await collect(
        infra.bootstrap_servers, TransactionIngested.topic(), count=2, timeout=5,
        where=lambda r: added["transaction_ref"].encode() in r.value,
    )  # fmt: skip
    assert len(ingested) == 1


async def test_concurrent_pulls_never_duplicate_a_transaction_or_an_event(
    stack: Stack, member: str
) -> None:
    connection = await stack.connect(member)
    await stack.container.idle()
    await stack.db.fetchval("DELETE FROM transactions")
    await stack.db.fetchval("UPDATE accounts SET synced_through = NULL")
    refresh = f"/v1/connections/{connection['connection_id']}/refresh"
    answers = await asyncio.gather(
        *[stack.client.post(refresh, headers=stack.headers(member)) for _ in range(4)]
    )
    assert all(a.status_code == 200 for a in answers), [
        a.json() for a in answers if a.status_code != 200
    ]
    expected = await stack.bank.transaction_count(member)
    assert sum(a.json()["added"] for a in answers) == expected
    assert await stack.db.fetchval("SELECT count(*) FROM transactions") == expected


async def test_duplicate_and_replayed_callbacks_are_refused_cleanly(
    stack: Stack, member: str
) -> None:
    started = await stack.client.post("/v1/connections", json={}, headers=stack.headers(member))
    state = await stack.bank.approve(started.json()["redirect_url"])
    body = {"state": state}
    answers = await asyncio.gather(
        *[
            stack.client.post("/v1/connections/callback", json=body, headers=stack.headers(member))
            for _ in range(3)
        ]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] in (
                "aggregation.state-already-used", "aggregation.callback-in-progress"
            )  # fmt: skip
    replay = await stack.client.post(
        "/v1/connections/callback", json=body, headers=stack.headers(member)
    )
    assert (replay.status_code, replay.json()["code"]) == (409, "aggregation.state-already-used")
    stranger = await stack.client.post(
        "/v1/connections/callback", json=body, headers=stack.headers("someone-else")
    )
    assert (stranger.status_code, stranger.json()["code"]) == (404, "aggregation.state-unknown")
    await stack.container.idle()
    assert await stack.db.fetchval("SELECT count(*) FROM connections") == 1


async def test_agent_timeouts_malformed_answers_and_outages_are_retried(
    stack: Stack, member: str
) -> None:
    connection = await stack.connect(member)
    await stack.container.idle()
    await stack.db.fetchval("DELETE FROM transactions")
    await stack.db.fetchval("UPDATE accounts SET synced_through = NULL")
    for fault in (
        {"kind": "slow", "delaySeconds": AGENT_TIMEOUT + 2, "pathPrefix": "/v1/accounts"},
        {"kind": "malformed", "pathPrefix": "/v1/accounts/"},
        {"kind": "error503", "retryAfterSeconds": 0, "pathPrefix": "/v1/accounts/"},
    ):
        await stack.bank.control("POST", "/sandbox/faults", json=fault)
    refresh = f"/v1/connections/{connection['connection_id']}/refresh"
    answer = await stack.client.post(refresh, headers=stack.headers(member))
    assert answer.status_code == 200, answer.text
    assert answer.json()["added"] == await stack.bank.transaction_count(member)


async def test_agent_down_is_a_503_problem_and_nothing_is_half_written(
    stack: Stack, member: str
) -> None:
    connection = await stack.connect(member)
    await stack.container.idle()
    before = await stack.db.fetchval("SELECT count(*) FROM transactions")
    await stack.bank.control(
        "POST",
        "/sandbox/faults",
        json={"kind": "error500", "count": 6, "pathPrefix": "/v1/accounts"},
    )
    try:
        refresh = f"/v1/connections/{connection['connection_id']}/refresh"
        answer = await stack.client.post(refresh, headers=stack.headers(member))
    finally:
        await stack.bank.control("DELETE", "/sandbox/faults")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "aggregation.agent-unavailable"
    assert await stack.db.fetchval("SELECT count(*) FROM transactions") == before


async def test_revoked_connection_ends_at_the_bank_and_leaves_the_vault(
    stack: Stack, member: str
) -> None:
    connection = await stack.connect(member)
    await stack.container.idle()
    token = await stack.token_of(member)
    revoked = await stack.client.delete(
        f"/v1/connections/{connection['connection_id']}", headers=stack.headers(member)
    )
    assert revoked.status_code == 204
    status = await stack.bank.control(
        "GET",
        f"/v1/consents/{token}/status",
        headers={"X-Request-ID": "6f1c4e0e-2b0c-4f69-9a0e-1d2c3b4a5f60"},
    )
    assert status["consentStatus"] == "terminatedByTpp"
    ref = await stack.db.fetchval("SELECT vault_ref FROM connections")
    assert ref is None
    assert await stack.db.fetchval("SELECT count(*) FROM teardowns") == 0
    again = await stack.client.post(
        f"/v1/connections/{connection['connection_id']}/refresh", headers=stack.headers(member)
    )
    assert (again.status_code, again.json()["code"]) == (409, "aggregation.connection-not-active")


async def test_member_never_sees_another_members_data(stack: Stack, member: str) -> None:
    """Two members with data: each sees only their own connections and transactions, and
    cannot show, refresh or revoke the other's connection (it is simply not found)."""
    mine = await _synced(stack, member)
    other = f"other-{uuid.uuid4()}"
    theirs = await _synced(stack, other)
    my_accounts = {a["account_ref"] for a in mine["accounts"]}
    their_accounts = {a["account_ref"] for a in theirs["accounts"]}
    assert my_accounts.isdisjoint(their_accounts)
    for viewer, own, foreign in ((member, mine, theirs), (other, theirs, mine)):
        listed = await stack.client.get("/v1/connections", headers=stack.headers(viewer))
        assert [c["connection_id"] for c in listed.json()["connections"]] == [own["connection_id"]]
        changes, _ = await stack.feed(viewer)
        assert changes["added"]
        seen = {t["account_ref"] for t in changes["added"]}
        assert seen == {a["account_ref"] for a in own["accounts"]}
        url = f"/v1/connections/{foreign['connection_id']}"
        for method, path in (("GET", url), ("POST", f"{url}/refresh"), ("DELETE", url)):
            answer = await stack.client.request(method, path, headers=stack.headers(viewer))
            assert (answer.status_code, answer.json()["code"]) == (
                404, "aggregation.connection-not-found"
            ), (method, path)  # fmt: skip
    for connection in (mine, theirs):
        assert (
            await stack.db.fetchval(
                "SELECT status FROM connections WHERE connection_id = $1",
                uuid.UUID(connection["connection_id"]),
            )
            == "active"
        )
    nobody, _ = await stack.feed("another-member-0001")
    assert nobody == {"added": [], "modified": [], "removed": []}


async def test_events_are_valid_minimised_payloads(stack: Stack, member: str, infra: Any) -> None:
    await _synced(stack, member)
    records = await collect(
        infra.bootstrap_servers, TransactionIngested.topic(), count=1, timeout=20,
        where=lambda r: member.encode() in r.value,
    )  # fmt: skip
    payload = json.loads(records[0].value)["payload"]
    assert set(payload) == {
        "user_id", "account_ref", "transaction_ref", "label", "booking_date", "amount",
        "currency", "status",
    }  # fmt: skip
    TransactionIngested.model_validate(payload)


async def test_initial_sync_runs_after_the_callback(stack: Stack, member: str) -> None:
    await stack.connect(member)

    async def synced() -> bool:
        return bool(await stack.db.fetchval("SELECT count(*) FROM transactions"))

    await eventually(synced)
