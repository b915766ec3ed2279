"""Streaming AES-256-GCM in authenticated segments, so a dump is encrypted as it flows.

Rules (the STREAM construction, as in Tink's streaming AEAD):
- The stream starts with ``MAGIC`` and a random 7-byte nonce prefix; then frames
  ``flag(1) | length(4, big-endian) | AES-GCM(segment) with its 16-byte tag``.
- Segment ``i`` is sealed with nonce ``prefix | i (4 bytes) | flag`` and the caller's associated
  data (backup id and schema), so a segment cannot be moved, reordered, swapped with another
  schema's, or marked last: any change fails its tag.
- Exactly one frame, the last one, carries ``flag = 1``: a stream cut after a segment boundary
  is refused (no final frame), and so is anything after the final frame.
- Plaintext segments are ``SEGMENT_BYTES`` long except the last one (possibly empty).
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devstack.backup.errors import IntegrityError

MAGIC = b"CBK1"
SEGMENT_BYTES = 1 << 20
_PREFIX = 7
_TAG = 16
_FRAME = struct.Struct(">BI")
_HEADER = len(MAGIC) + _PREFIX
_MAX_SEGMENTS = 1 << 32


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= _MAX_SEGMENTS:
        raise IntegrityError("stream too long for one data key")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class SegmentEncryptor:
    """Feed plaintext in any sizes; get back ciphertext to write; ``finish`` once at the end."""

    def __init__(self, key: bytes, associated_data: bytes) -> None:
        self._aead = AESGCM(key)
        self._aad = associated_data
        self._prefix = os.urandom(_PREFIX)
        self._pending = bytearray()
        self._index = 0
        self._started = False

    def feed(self, data: bytes) -> bytes:
        self._pending += data
        out = bytearray(self._header())
        while len(self._pending) > SEGMENT_BYTES:
            out += self._seal(bytes(self._pending[:SEGMENT_BYTES]), last=False)
            del self._pending[:SEGMENT_BYTES]
        return bytes(out)

    def finish(self) -> bytes:
        """The final frame (the rest of the plaintext, possibly empty)."""
        out = self._header() + self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        return out

    def _header(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return MAGIC + self._prefix

    def _seal(self, plaintext: bytes, *, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), plaintext, self._aad)
        self._index += 1
        return _FRAME.pack(1 if last else 0, len(sealed)) + sealed


class SegmentDecryptor:
    """Feed ciphertext in any sizes; get back authenticated plaintext; ``finish`` checks that
    the stream ended with its final frame and nothing after it."""

    def __init__(self, key: bytes, associated_data: bytes) -> None:
        self._aead = AESGCM(key)
        self._aad = associated_data
        self._buffer = bytearray()
        self._prefix: bytes | None = None
        self._index = 0
        self._done = False

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        if self._prefix is None:
            if len(self._buffer) < _HEADER:
                return b""
            if bytes(self._buffer[: len(MAGIC)]) != MAGIC:
                raise IntegrityError("not a Coffre backup stream")
            self._prefix = bytes(self._buffer[len(MAGIC) : _HEADER])
            del self._buffer[:_HEADER]
        out = bytearray()
        while (frame := self._next_frame()) is not None:
            out += frame
        return bytes(out)

    def finish(self) -> None:
        if not self._done or self._buffer:
            raise IntegrityError("the backup stream is truncated or has trailing data")

    def _next_frame(self) -> bytes | None:
        if len(self._buffer) < _FRAME.size:
            return None
        flag, length = _FRAME.unpack_from(self._buffer)
        if self._done or flag > 1 or length < _TAG or length > SEGMENT_BYTES + _TAG:
            raise IntegrityError("the backup stream is malformed")
        if len(self._buffer) < _FRAME.size + length:
            return None
        sealed = bytes(self._buffer[_FRAME.size : _FRAME.size + length])
        del self._buffer[: _FRAME.size + length]
        assert self._prefix is not None
        try:
            plain = self._aead.decrypt(
                _nonce(self._prefix, self._index, flag == 1), sealed, self._aad
            )
        except InvalidTag:
            raise IntegrityError(
                f"segment {self._index} does not authenticate (altered, reordered or another key)"
            ) from None
        self._index += 1
        self._done = flag == 1
        return plain
