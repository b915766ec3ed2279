"""The vault's metrics on /metrics: unwraps by mode and outcome, audit-append latency, and the
audit-chain gauge its periodic check sets (0 once a row is tampered with)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest
import pytest_asyncio
from coffre_testing.app import running_app
from coffre_testing.metrics import scrape
from coffre_testing.waiting import eventually
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
Headers = Callable[..., dict[str, str]]


@pytest_asyncio.fixture
async def client(vault_settings: VaultSettings) -> AsyncIterator[httpx.AsyncClient]:
    settings = vault_settings.model_copy(update={"audit_verify_seconds": 0.2})
    app = create_app(settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as http:
        yield http


async def test_unwraps_are_counted_by_mode_and_outcome_with_the_keys_of_a_batch(
    client: httpx.AsyncClient, headers: Headers, member: str
) -> None:
    made = await client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    wrapped = made.json()["wrapped"]
    before = await scrape(client)
    single = {"purpose": "document", "wrapped": wrapped}
    url = f"/v1/subjects/{member}/data-keys/unwrap"
    assert (await client.post(url, json=single, headers=headers("archive"))).status_code == 200
    item = {"subject": member, "purpose": "document", "wrapped": wrapped}
    batch = [item, item, item | {"wrapped": "***"}, item | {"purpose": "psd2-consent"}]
    answer = await client.post(
        "/v1/data-keys/unwrap-batch", json={"batch_input": batch}, headers=headers("archive")
    )
    assert answer.status_code == 200
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return after.since(before, name, **labels)

    unwraps = "coffre_vault_unwraps_total"
    assert delta(unwraps, mode="single", outcome="allowed") == 1
    assert delta(unwraps, mode="batch", outcome="allowed") == 2
    assert delta(unwraps, mode="batch", outcome="failed") == 1
    assert delta(unwraps, mode="batch", outcome="denied") == 1
    assert delta("coffre_vault_unwrap_batch_keys_count") == 1
    assert delta("coffre_vault_unwrap_batch_keys_sum") == 4
    assert delta("coffre_vault_audit_append_duration_seconds_count") >= 1
    assert delta("coffre_vault_audit_append_entries_sum") >= 5
    assert member not in after.text


async def test_a_tampered_audit_row_sets_the_chain_gauge_to_zero(
    client: httpx.AsyncClient, headers: Headers, member: str, vault_settings: VaultSettings
) -> None:
    made = await client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    assert made.status_code == 201

    async def gauge_is(value: float) -> bool:
        found = await scrape(client)
        gauge = "coffre_vault_audit_chain_intact"
        return found.has(gauge) and found.sample(gauge) == value

    await eventually(lambda: gauge_is(1), timeout=20)
    conn = await asyncpg.connect(vault_settings.database_url.get_secret_value())
    try:
        await conn.execute(
            f'UPDATE "{vault_settings.schema_name}".audit_log SET actor = $1'
            f' WHERE seq = (SELECT max(seq) FROM "{vault_settings.schema_name}".audit_log)',
            "backoffice",
        )
    finally:
        await conn.close()
    await eventually(lambda: gauge_is(0), timeout=20)
