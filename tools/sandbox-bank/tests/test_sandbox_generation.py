"""Seeded data: deterministic per PSU and seed, valid IBANs, volume on demand; app wiring."""

from typing import Any

import httpx
import pytest
import sandbox_bank.main
import uvicorn
from sandbox_bank import SandboxSettings, create_app
from sandbox_bank.domain.generator import iban_from_bban
from sandbox_bank.testing import sandbox_client


async def snapshot(seed: int, psu_id: str) -> list[dict[str, Any]]:
    async with sandbox_client(create_app(SandboxSettings(seed=seed))) as client:
        accounts: list[dict[str, Any]] = (
            await client.get(f"/sandbox/psus/{psu_id}/accounts")
        ).json()["accounts"]
        return accounts


def iban_is_valid(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


@pytest.mark.unit
@pytest.mark.asyncio
async def test_same_psu_and_seed_give_the_same_accounts_and_history() -> None:
    assert await snapshot(1, "member-42") == await snapshot(1, "member-42")
    assert await snapshot(1, "member-42") != await snapshot(2, "member-42")
    assert await snapshot(1, "member-42") != await snapshot(1, "member-43")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_psus_have_one_or_two_accounts_with_valid_ibans(client: httpx.AsyncClient) -> None:
    listed = [
        (await client.get(f"/sandbox/psus/member-{n}/accounts")).json()["accounts"]
        for n in range(12)
    ]

    assert {len(accounts) for accounts in listed} == {1, 2}
    assert all(iban_is_valid(a["iban"]) for accounts in listed for a in accounts)
    assert iban_from_bban("GB", "WEST12345698765432") == "GB82WEST12345698765432"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_generate_adds_volume_to_every_account(client: httpx.AsyncClient) -> None:
    before = (await client.get("/sandbox/psus/member-1/accounts")).json()["accounts"]

    response = await client.post("/sandbox/psus/member-1/generate", params={"count": 3000})

    totals = response.json()["totals"]
    assert {a["resourceId"]: a["transactionCount"] + 3000 for a in before} == totals


@pytest.mark.unit
def test_main_serves_on_host_and_port_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setenv("SANDBOX_BANK_HOST", "0.0.0.0")
    monkeypatch.setenv("SANDBOX_BANK_PORT", "8123")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))

    sandbox_bank.main.main()

    assert calls == [
        {"host": "0.0.0.0", "port": 8123, "access_log": False, "timeout_keep_alive": 75}
    ]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_controls_can_be_switched_off() -> None:
    app = create_app(SandboxSettings(enable_controls=False))

    async with sandbox_client(app) as client:
        clock = await client.get("/sandbox/clock")

    assert clock.status_code == 404
    paths = set(app.openapi()["paths"])
    assert not any(path.startswith("/sandbox") for path in paths)
    assert "/v1/consents" in paths
