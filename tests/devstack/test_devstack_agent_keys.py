"""The dev stack pins the sandbox agent's credential key at the vault under the kid the
sandbox itself publishes, and keeps the private half in a 0600 file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from devstack.agent_keys import agent_credential_env
from sandbox_bank import SandboxSettings, create_app
from sandbox_bank.testing import sandbox_client

pytestmark = pytest.mark.unit


@pytest.mark.asyncio
async def test_vault_pin_matches_the_key_the_sandbox_publishes(tmp_path: Path) -> None:
    sandbox_env, vault_env = agent_credential_env(tmp_path)
    again, _ = agent_credential_env(tmp_path)
    settings = SandboxSettings(credential_key=sandbox_env["SANDBOX_BANK_CREDENTIAL_KEY"])

    async with sandbox_client(create_app(settings)) as client:
        published = (await client.get("/v1/psu-credentials/keys")).json()["keys"][0]

    assert json.loads(vault_env["VAULT_AGENT_KEYS"])["sandbox-bank"] == published
    assert again == sandbox_env
    mode = stat.S_IMODE((tmp_path / "sandbox-agent.key").stat().st_mode)
    assert mode == 0o600
