"""Unit-test wiring: archive's helpers importable by name, whatever pytest's import mode; a
sealer over the dev PKI with an in-process TSA."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.seal_signers import local_key_signer
from asn1crypto import crl
from devstack.pki import DevPki, ensure_dev_pki
from devstack.tsa import CachedKeyTimeStamper
from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))


@pytest.fixture(scope="session")
def unit_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def stamper(unit_pki: DevPki) -> CachedKeyTimeStamper:
    """An RFC 3161 timestamper in process, with the dev PKI's TSA certificate."""
    return CachedKeyTimeStamper(
        load_cert_from_pemder(str(unit_pki.tsa_cert)),
        load_private_key_from_pemder(str(unit_pki.tsa_key), passphrase=None),
        [load_cert_from_pemder(str(unit_pki.root_cert))],
    )


@pytest.fixture(scope="session")
def sealer(unit_pki: DevPki, stamper: CachedKeyTimeStamper) -> PadesSealer:
    pki = unit_pki
    root = load_cert_from_pemder(str(pki.root_cert))
    signer = local_key_signer(pki.seal_cert, pki.seal_key, [Path(pki.root_cert)])
    crls = [crl.CertificateList.load(pki.crl.read_bytes())]
    return PadesSealer(signer, stamper, [root], crls)
