"""The seal with pyHanko: B-LT, offline validation, tampering detected (dev PKI, in-process TSA)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import img2pdf
import pytest
from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.seal_signers import local_key_signer
from archive_unit_helpers import jpeg
from asn1crypto import crl
from devstack.pki import ensure_dev_pki
from pyhanko.keys import load_cert_from_pemder

pytestmark = pytest.mark.unit


def test_the_seal_key_is_parsed_once(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path / "pki")
    signer = local_key_signer(pki.seal_cert, pki.seal_key, [pki.root_cert])
    pki.seal_key.unlink()
    assert signer.sign_raw(b"data", "sha256")


def test_a_sealed_pdf_validates_offline_as_b_lt(sealer: PadesSealer) -> None:
    sealed = asyncio.run(sealer.seal(img2pdf.convert(jpeg())))
    check = asyncio.run(sealer.check(sealed))
    assert check.intact
    assert check.valid
    assert check.trusted
    assert check.covers_whole_file
    assert check.timestamp_at is not None
    assert check.level == "PAdES-B-LT"
    assert any("Coffre Development Root CA" in name for name in check.chain)


def test_a_changed_byte_in_a_sealed_pdf_is_detected(sealer: PadesSealer) -> None:
    sealed = bytearray(asyncio.run(sealer.seal(img2pdf.convert(jpeg()))))
    at = sealed.index(b"/MediaBox")
    sealed[at + 12] = ord("9") if sealed[at + 12] != ord("9") else ord("8")
    check = asyncio.run(sealer.check(bytes(sealed)))
    assert not (check.intact and check.valid)


def test_a_seal_from_an_untrusted_root_is_not_trusted(sealer: PadesSealer, tmp_path: Path) -> None:
    other = ensure_dev_pki(tmp_path / "other")
    stranger = PadesSealer(
        local_key_signer(other.seal_cert, other.seal_key, [other.root_cert]),
        sealer._timestamper,
        [load_cert_from_pemder(str(other.root_cert)), *sealer._roots],
        [crl.CertificateList.load(other.crl.read_bytes()), *sealer._crls],
    )
    sealed = asyncio.run(stranger.seal(img2pdf.convert(jpeg())))
    assert asyncio.run(sealer.check(sealed)).trusted is False


def test_an_archival_timestamp_makes_the_seal_b_lta_and_keeps_it_valid(
    sealer: PadesSealer,
) -> None:
    sealed = asyncio.run(sealer.seal(img2pdf.convert(jpeg())))
    extended = asyncio.run(sealer.extend(sealed))
    assert extended.startswith(sealed)
    check = asyncio.run(sealer.check(extended))
    assert check.level == "PAdES-B-LTA"
    assert check.problems == ()
    assert check.intact
    assert check.valid
    assert check.trusted
    assert check.covers_whole_file
