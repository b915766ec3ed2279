"""The seal's fixed costs paid once: validation material cached while valid, yet embedded in
every seal; RSA or ECDSA keys; the TSA over HTTP/1.1 keep-alive (real dev TSA on a port)."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import img2pdf
import pytest
from archive.adapters.pades_signing import PresignCache
from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.seal_signers import local_key_signer
from archive.adapters.tsa_client import KeepAliveHttpTimeStamper
from archive.domain.errors import SealFailed
from archive_unit_helpers import jpeg
from asn1crypto import crl
from devstack.pki import DevPki, KeyType, ensure_dev_pki
from devstack.ports import free_port
from devstack.tsa import DevTsa
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTsa]:
    running = DevTsa(tmp_path_factory.mktemp("pki"), port=free_port()).start()
    yield running
    running.stop()


def http_sealer(pki: DevPki, url: str) -> PadesSealer:
    root = load_cert_from_pemder(str(pki.root_cert))
    crls = [crl.CertificateList.load(pki.crl.read_bytes())]
    return PadesSealer(
        local_key_signer(pki.seal_cert, pki.seal_key, [pki.root_cert]),
        KeepAliveHttpTimeStamper(url, timeout=5),
        [root],
        crls,
        workers=1,
    )


def embedded_material(sealed: bytes) -> tuple[int, int]:
    dss = PdfFileReader(io.BytesIO(sealed)).root["/DSS"]
    return len(dss["/Certs"]), len(dss["/CRLs"])


def test_validation_material_is_collected_once_and_embedded_in_every_seal(tsa: DevTsa) -> None:
    sealer = http_sealer(DevPki(tsa.pki_folder), tsa.url)
    try:
        first = asyncio.run(sealer.seal(img2pdf.convert(jpeg())))
        second = asyncio.run(sealer.seal(img2pdf.convert(jpeg(500, 300))))
        assert sealer._presign.collected == 1
        for sealed in (first, second):
            certs, crls = embedded_material(sealed)
            assert certs >= 3  # seal certificate, TSA certificate, root
            assert crls >= 1
            check = asyncio.run(sealer.check(sealed))
            assert (check.level, check.problems, check.trusted) == ("PAdES-B-LT", (), True)
            assert check.covers_whole_file
    finally:
        sealer.close()


def test_validation_material_past_its_refresh_time_is_collected_again(tsa: DevTsa) -> None:
    clock = [datetime.now(UTC)]
    sealer = http_sealer(DevPki(tsa.pki_folder), tsa.url)
    sealer._presign = PresignCache(sealer._crls, now=lambda: clock[0])
    try:
        asyncio.run(sealer.seal(img2pdf.convert(jpeg())))
        clock[0] += timedelta(hours=2)
        asyncio.run(sealer.seal(img2pdf.convert(jpeg())))
        assert sealer._presign.collected == 2
    finally:
        sealer.close()


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_rsa_and_ecdsa_seal_keys_both_give_a_trusted_b_lt_seal(
    tmp_path: Path, key_type: KeyType
) -> None:
    tsa = DevTsa(tmp_path / "pki", port=free_port())
    pki = ensure_dev_pki(tsa.pki_folder, key_type=key_type)
    tsa.start()
    sealer = http_sealer(pki, tsa.url)
    try:
        check = asyncio.run(sealer.check(asyncio.run(sealer.seal(img2pdf.convert(jpeg())))))
        assert (check.level, check.problems, check.trusted) == ("PAdES-B-LT", (), True)
        assert check.timestamp_at is not None
    finally:
        sealer.close()
        tsa.stop()


def test_the_dev_tsa_answers_several_tokens_on_one_kept_alive_connection(tsa: DevTsa) -> None:
    stamper = KeepAliveHttpTimeStamper(tsa.url)
    _, request = stamper.request_cms(hashlib.sha256(b"receipt").digest(), "sha256")
    connection = http.client.HTTPConnection("127.0.0.1", tsa.port, timeout=5)
    try:
        headers = {"Content-Type": "application/timestamp-query"}
        for _ in range(3):
            connection.request("POST", "/", body=request.dump(), headers=headers)
            answer = connection.getresponse()
            assert answer.status == 200
            assert answer.getheader("Content-Type") == "application/timestamp-reply"
            assert answer.read()
            assert not answer.will_close
    finally:
        connection.close()


def test_an_unreachable_tsa_fails_the_seal_with_a_clear_error(tsa: DevTsa) -> None:
    sealer = http_sealer(DevPki(tsa.pki_folder), f"http://127.0.0.1:{free_port()}/")
    try:
        with pytest.raises(SealFailed, match="could not be applied"):
            asyncio.run(sealer.seal(img2pdf.convert(jpeg())))
    finally:
        sealer.close()
