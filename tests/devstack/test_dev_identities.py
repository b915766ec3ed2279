"""The dev stack's back-office operator identity is trusted by the services, so the vault's
operator grants can be tried by hand: ``coffre-dev token backoffice`` gives a token they accept."""

from __future__ import annotations

from pathlib import Path

import pytest
from common.security.service_identity import ServiceTokenVerifier
from devstack.cli import main
from devstack.identities import ensure_identities

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COFFRE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(ROOT)
    return tmp_path / "state"


def test_backoffice_token_from_the_cli_is_accepted_by_the_vault_trust_folder(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = ensure_identities(state)
    assert (trust / "backoffice.key.pem").stat().st_mode & 0o777 == 0o600
    assert main(["token", "backoffice"]) == 0
    printed = capsys.readouterr().out.strip()
    caller = ServiceTokenVerifier.from_folder("vault", trust).verify(f"Bearer {printed}")
    assert caller.name == "backoffice"


def test_token_for_an_unknown_identity_is_refused_with_a_clear_message(state: Path) -> None:
    with pytest.raises(SystemExit, match="no identity 'nobody'"):
        main(["token", "nobody"])
