"""The segmented AES-256-GCM stream: what goes in comes out, and any change is refused."""

from __future__ import annotations

import os

import pytest
from devstack.backup.errors import IntegrityError
from devstack.backup.segments import SEGMENT_BYTES, SegmentDecryptor, SegmentEncryptor

pytestmark = pytest.mark.unit

KEY = bytes(range(32))
AAD = b"coffre-backup/v1|20261201T020000Z-00000000|vault"


def _seal(plain: bytes, piece: int = 65_536) -> bytes:
    encryptor = SegmentEncryptor(KEY, AAD)
    out = b"".join(encryptor.feed(plain[i : i + piece]) for i in range(0, len(plain), piece))
    return out + encryptor.finish()


def _open(sealed: bytes, key: bytes = KEY, aad: bytes = AAD, piece: int = 70_001) -> bytes:
    decryptor = SegmentDecryptor(key, aad)
    out = b"".join(decryptor.feed(sealed[i : i + piece]) for i in range(0, len(sealed), piece))
    decryptor.finish()
    return out


@pytest.mark.parametrize("size", [0, 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES - 7])
def test_any_stream_round_trips_whatever_the_read_sizes(size: int) -> None:
    plain = os.urandom(size)
    assert _open(_seal(plain)) == plain


def test_the_ciphertext_holds_no_plaintext() -> None:
    plain = b"PGDMP" + b"member-42 FR7630006000011234567890189 " * 5000
    sealed = _seal(plain)
    assert b"PGDMP" not in sealed
    assert b"FR7630006000011234567890189" not in sealed


def test_a_flipped_bit_is_refused() -> None:
    sealed = bytearray(_seal(os.urandom(2 * SEGMENT_BYTES)))
    sealed[SEGMENT_BYTES + 100] ^= 0x01
    with pytest.raises(IntegrityError, match="does not authenticate"):
        _open(bytes(sealed))


def test_a_stream_cut_at_a_segment_boundary_is_refused() -> None:
    sealed = _seal(os.urandom(2 * SEGMENT_BYTES + 10))
    first_frame_end = 11 + 5 + SEGMENT_BYTES + 16
    with pytest.raises(IntegrityError, match="truncated"):
        _open(sealed[:first_frame_end])


def test_trailing_bytes_after_the_final_segment_are_refused() -> None:
    with pytest.raises(IntegrityError):
        _open(_seal(b"dump") + b"\x00" * 40)


def test_another_key_or_another_schema_does_not_open_the_stream() -> None:
    sealed = _seal(b"dump of vault")
    with pytest.raises(IntegrityError):
        _open(sealed, key=bytes(32))
    with pytest.raises(IntegrityError):
        _open(sealed, aad=AAD.replace(b"vault", b"auth"))


def test_segments_swapped_between_two_streams_are_refused() -> None:
    one, two = _seal(os.urandom(SEGMENT_BYTES + 5)), _seal(os.urandom(SEGMENT_BYTES + 5))
    with pytest.raises(IntegrityError):
        _open(one[:11] + two[11:])


def test_something_else_than_a_backup_stream_is_refused() -> None:
    with pytest.raises(IntegrityError, match="not a Coffre backup stream"):
        _open(b"PGDMP" + bytes(100))
