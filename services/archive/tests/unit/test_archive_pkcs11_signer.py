"""The production signer port: the seal key in an HSM (PKCS#11), here SoftHSM2.

A token is created in a temporary folder, the dev PKI's seal key is imported into it (it never
comes back out) with its certificate beside it under the same label, and receipts are sealed
through pyHanko's PKCS#11 signer, then validated by pyHanko (offline) and by pdfsig.
Skipped, saying why, when SoftHSM2 is not installed (`make system-deps` installs it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from archive.adapters.images import image_to_pdf
from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.seal_signers import pkcs11_signer
from archive.domain.files import Kind
from archive_pdfa_check import pdfsig_says_valid
from archive_unit_helpers import jpeg
from asn1crypto import crl
from coffre_testing.waiting import patient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from devstack.pki import DevPki
from devstack.tsa import CachedKeyTimeStamper
from pyhanko.keys import load_cert_from_pemder

pytestmark = pytest.mark.unit
MODULES = (
    os.environ.get("SOFTHSM2_MODULE", ""),
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
TOKEN, LABEL, PIN = "coffre-seal", "receipt-seal", "2718-2818"


@dataclass(frozen=True)
class Hsm:
    module: str
    pki: DevPki


def _module() -> str:
    found = next((m for m in MODULES if m and Path(m).is_file()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2, or make system-deps)")
    return found


def _store_certificate(module: str, cert_pem: Path) -> None:
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    token = pkcs11.lib(module).get_token(token_label=TOKEN)
    with token.open(rw=True, user_pin=PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: LABEL,
                Attribute.ID: b"\x01",
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: cert.public_bytes(Encoding.DER),
            }
        )


@pytest.fixture(scope="module")
def hsm(unit_pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsm]:
    module = _module()
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    init = ["--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "31415"]
    key = ["--import", str(unit_pki.seal_key), "--token", TOKEN, "--label", LABEL, "--id", "01"]
    for args in (init, [*key, "--pin", PIN]):
        subprocess.run(["softhsm2-util", *args], check=True, capture_output=True)
    _store_certificate(module, unit_pki.seal_cert)
    yield Hsm(module, unit_pki)
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


def _sealer(hsm: Hsm, stamper: CachedKeyTimeStamper) -> PadesSealer:
    signer = pkcs11_signer(hsm.module, TOKEN, LABEL, PIN, [hsm.pki.root_cert])
    root = load_cert_from_pemder(str(hsm.pki.root_cert))
    crls = [crl.CertificateList.load(hsm.pki.crl.read_bytes())]
    return PadesSealer(signer, stamper, [root], crls)


def test_a_receipt_sealed_in_the_hsm_validates_as_b_lt(
    hsm: Hsm, stamper: CachedKeyTimeStamper
) -> None:
    sealer = _sealer(hsm, stamper)
    sealed = asyncio.run(sealer.seal(image_to_pdf(jpeg(), Kind.JPEG, 10_000_000).pdf))
    check = asyncio.run(sealer.check(sealed))
    assert check.problems == ()
    assert check.intact
    assert check.valid
    assert check.trusted
    assert check.covers_whole_file
    assert check.level == "PAdES-B-LT"
    assert "Coffre Development Receipt Seal" in check.signer
    if shutil.which("pdfsig"):
        assert pdfsig_says_valid(sealed)


def test_receipts_sealed_at_once_share_the_hsm_session(
    hsm: Hsm, stamper: CachedKeyTimeStamper
) -> None:
    sealer = _sealer(hsm, stamper)
    pdf = image_to_pdf(jpeg(), Kind.JPEG, 10_000_000).pdf

    async def four() -> list[bytes]:
        return list(await asyncio.gather(*(sealer.seal(pdf) for _ in range(4))))

    for sealed in asyncio.run(four()):
        assert asyncio.run(sealer.check(sealed)).problems == ()


def _open_in_fresh_process(hsm: Hsm, token: str, label: str, pin: str) -> str:
    """Open the signer in a new process (a PKCS#11 login lasts as long as the process' sessions,
    so a wrong PIN is only ever checked by a process not logged in yet); returns its verdict."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from archive.adapters.seal_signers import pkcs11_signer\n"
        "from archive.domain.errors import SealFailed\n"
        "try:\n"
        "    pkcs11_signer(*sys.argv[1:5], [Path(sys.argv[5])])\n"
        "except SealFailed as exc:\n"
        "    print('refused:', exc.message)\n"
        "else:\n"
        "    print('opened')\n"
    )
    args = [hsm.module, token, label, pin, str(hsm.pki.root_cert)]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=patient(120)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_right_pin_opens_the_signer_in_a_fresh_process(hsm: Hsm) -> None:
    assert _open_in_fresh_process(hsm, TOKEN, LABEL, PIN) == "opened"


def test_a_wrong_pin_stops_the_signer_at_start(hsm: Hsm) -> None:
    verdict = _open_in_fresh_process(hsm, TOKEN, LABEL, "0000")
    assert verdict == "refused: the HSM seal key could not be opened (PinIncorrect)"


def test_an_unknown_key_label_or_token_stops_the_signer_at_start(hsm: Hsm) -> None:
    assert _open_in_fresh_process(hsm, TOKEN, "no-such-key", PIN).startswith("refused:")
    assert _open_in_fresh_process(hsm, "no-such-token", LABEL, PIN).startswith("refused:")
