from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from common.errors import ConfigurationError
from vault.adapters.kms import AwsKms, LocalFileKms
from vault.adapters.memory import MemoryStore
from vault.bootstrap import build_context
from vault.domain.caller import Caller
from vault.domain.errors import KmsUnavailable
from vault.domain.keys import kms_context
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

CONTEXT = kms_context(1)


async def test_local_kms_creates_its_key_file_readable_by_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "kms" / "master.key"
    kms = LocalFileKms(path)
    wrapped = await kms.encrypt(b"k" * 32, CONTEXT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert await LocalFileKms(path).decrypt(wrapped, CONTEXT) == b"k" * 32


async def test_local_kms_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    wrapped = await LocalFileKms(path).encrypt(b"secret", CONTEXT)
    content = path.read_bytes()
    assert await LocalFileKms(path).decrypt(wrapped, CONTEXT) == b"secret"
    assert path.read_bytes() == content


async def test_local_kms_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    await LocalFileKms(path).encrypt(b"x", CONTEXT)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        await LocalFileKms(path).encrypt(b"x", CONTEXT)


@pytest.mark.parametrize("mode", [0o604, 0o660, 0o666])
async def test_local_kms_refuses_modes_that_share_the_key(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    await LocalFileKms(path).encrypt(b"x", CONTEXT)
    os.chmod(path, mode)
    if mode & 0o070 and not mode & 0o007:
        if os.geteuid() != 0:
            pytest.skip("giving the file another group needs root")
        os.chown(path, -1, os.getegid() + 1)
    with pytest.raises(ConfigurationError):
        await LocalFileKms(path).encrypt(b"x", CONTEXT)


async def test_local_kms_accepts_its_own_group_as_kubernetes_mounts_it(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    wrapped = await LocalFileKms(path).encrypt(b"x", CONTEXT)
    os.chmod(path, 0o440)
    assert await LocalFileKms(path).decrypt(wrapped, CONTEXT) == b"x"


async def test_local_kms_reads_a_raw_32_byte_key_file(tmp_path: Path) -> None:
    path = tmp_path / "raw.key"
    path.write_bytes(os.urandom(32))
    os.chmod(path, 0o600)
    kms = LocalFileKms(path)
    assert await kms.decrypt(await kms.encrypt(b"m", CONTEXT), CONTEXT) == b"m"


async def test_local_kms_refuses_a_missing_file_when_told_not_to_create(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        await LocalFileKms(tmp_path / "none.key", create=False).encrypt(b"x", CONTEXT)


async def test_local_kms_refuses_a_malformed_key_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text("not-a-key")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigurationError, match="256-bit"):
        await LocalFileKms(path).encrypt(b"x", CONTEXT)


async def test_local_kms_binds_the_encryption_context(tmp_path: Path) -> None:
    kms = LocalFileKms(tmp_path / "master.key")
    wrapped = await kms.encrypt(b"key", kms_context(1))
    with pytest.raises(KmsUnavailable):
        await kms.decrypt(wrapped, kms_context(2))


def _flipped_last_byte(blob: bytes) -> bytes:
    """The blob with its last bit changed: always different (a byte overwritten with a constant
    is unchanged when it already held that constant, one time in 256)."""
    return blob[:-1] + bytes([blob[-1] ^ 0x01])


async def test_local_kms_rejects_ciphertext_of_another_key_file(tmp_path: Path) -> None:
    wrapped = await LocalFileKms(tmp_path / "a.key").encrypt(b"key", CONTEXT)
    with pytest.raises(KmsUnavailable):
        await LocalFileKms(tmp_path / "b.key").decrypt(wrapped, CONTEXT)
    with pytest.raises(KmsUnavailable):
        await LocalFileKms(tmp_path / "a.key").decrypt(_flipped_last_byte(wrapped), CONTEXT)


async def test_vault_runs_end_to_end_on_the_local_kms(tmp_path: Path) -> None:
    store = MemoryStore()
    ref = SecretRef("member-1", "psd2-consent", "c1")
    writer = build_context(store.uow, LocalFileKms(tmp_path / "master.key"))
    await put_secret(writer, Caller("aggregation"), ref, SecretValue(plaintext=b"token"))
    reader = build_context(store.uow, LocalFileKms(tmp_path / "master.key"))
    assert await read_secret(reader, Caller("payments"), ref) == b"token"


@pytest.fixture
def aws_kms_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        import boto3

        client = boto3.client("kms", region_name="eu-west-3")
        key_id = client.create_key(Description="coffre vault master wrap")["KeyMetadata"]["KeyId"]
        yield client, key_id


async def test_aws_kms_wraps_and_unwraps_with_the_encryption_context(aws_kms_key: Any) -> None:
    client, key_id = aws_kms_key
    kms = AwsKms(client, key_id)
    wrapped = await kms.encrypt(b"m" * 32, CONTEXT)
    assert b"m" * 32 not in wrapped
    assert await kms.decrypt(wrapped, CONTEXT) == b"m" * 32
    with pytest.raises(KmsUnavailable, match="InvalidCiphertext"):
        await kms.decrypt(wrapped, kms_context(2))


async def test_aws_kms_errors_become_kms_unavailable(aws_kms_key: Any) -> None:
    client, key_id = aws_kms_key
    with pytest.raises(KmsUnavailable) as err:
        await AwsKms(client, "alias/no-such-key").encrypt(b"x", CONTEXT)
    assert err.value.status == 503
    assert "NotFoundException" in err.value.message
    wrapped = await AwsKms(client, key_id).encrypt(b"x", CONTEXT)
    with pytest.raises(KmsUnavailable):
        await AwsKms(client, key_id).decrypt(_flipped_last_byte(wrapped), CONTEXT)


async def test_vault_runs_end_to_end_on_aws_kms(aws_kms_key: Any) -> None:
    client, key_id = aws_kms_key
    store = MemoryStore()
    ref = SecretRef("member-1", "psd2-consent", "c1")
    await put_secret(
        build_context(store.uow, AwsKms(client, key_id)),
        Caller("aggregation"),
        ref,
        SecretValue(plaintext=b"token"),
    )
    assert (
        await read_secret(build_context(store.uow, AwsKms(client, key_id)), Caller("payments"), ref)
        == b"token"
    )
    assert store.state.masters[1].kms_key_id == key_id
