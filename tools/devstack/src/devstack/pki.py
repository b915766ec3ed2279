"""The development PKI of the archive's seal: root CA → seal certificate, plus a TSA certificate.

Rules: generated once into `<state>/pki/` and reused (idempotent); keys are ECDSA P-256 (fast
to sign and small to embed; `key_type="rsa"` gives RSA-2048, and a folder made earlier with RSA
keys is kept as it is — the signer and the TSA take either); private keys are written
0600; the TSA certificate carries the critical `timeStamping` extended key usage; the root's
CRL (empty) is re-issued whenever it is missing or past its next update, so offline validation
always has fresh revocation material. Development and tests only: production seals come from
a qualified certificate in an HSM or a remote signing service.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_CRL_URL = "http://127.0.0.1:8021/crl/root.crl"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyType = Literal["ec", "rsa"]


@dataclass(frozen=True)
class DevPki:
    """Paths of the generated material."""

    folder: Path

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def root_cert(self) -> Path:
        return self.path("root.cert.pem")

    @property
    def seal_cert(self) -> Path:
        return self.path("seal.cert.pem")

    @property
    def seal_key(self) -> Path:
        return self.path("seal.key.pem")

    @property
    def tsa_cert(self) -> Path:
        return self.path("tsa.cert.pem")

    @property
    def tsa_key(self) -> Path:
        return self.path("tsa.key.pem")

    @property
    def crl(self) -> Path:
        return self.path("root.crl")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Coffre Development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _issue(
    subject: str,
    key: PrivateKey,
    issuer: tuple[x509.Certificate, PrivateKey] | None,
    *,
    years: int,
    eku: x509.ObjectIdentifier | None = None,
    crl_url: str = DEFAULT_CRL_URL,
) -> x509.Certificate:
    now = _now() - dt.timedelta(minutes=5)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
        content_commitment = False
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), False
        )
        uri = x509.UniformResourceIdentifier(crl_url)
        point = x509.DistributionPoint([uri], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), False)
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
        content_commitment = eku is None
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=content_commitment,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _load(cert: Path, key: Path) -> tuple[x509.Certificate, PrivateKey]:
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return certificate, private


def _crl_is_fresh(path: Path) -> bool:
    if not path.exists():
        return False
    crl = x509.load_der_x509_crl(path.read_bytes())
    next_update = crl.next_update_utc
    return next_update is not None and next_update - _now() > dt.timedelta(days=1)


def _write_crl(pki: DevPki, root: tuple[x509.Certificate, PrivateKey]) -> None:
    now = _now() - dt.timedelta(minutes=5)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root[0].subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=30))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .sign(root[1], hashes.SHA256())
    )
    pki.crl.write_bytes(crl.public_bytes(serialization.Encoding.DER))


def ensure_dev_pki(
    folder: Path, *, crl_url: str = DEFAULT_CRL_URL, key_type: KeyType = "ec"
) -> DevPki:
    """Create (or keep) the root CA, the seal and TSA certificates and a fresh root CRL."""
    pki = DevPki(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    root_key_path = pki.path("root.key.pem")
    if not (pki.root_cert.exists() and root_key_path.exists()):
        key = _new_key(key_type)
        _write_key(root_key_path, key)
        cert = _issue("Coffre Development Root CA", key, None, years=20)
        pki.root_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for stale in (pki.seal_cert, pki.tsa_cert, pki.crl):
            stale.unlink(missing_ok=True)
    root = _load(pki.root_cert, root_key_path)
    leaves = (
        (pki.seal_cert, pki.seal_key, "Coffre Development Receipt Seal", None),
        (pki.tsa_cert, pki.tsa_key, "Coffre Development TSA", ExtendedKeyUsageOID.TIME_STAMPING),
    )
    for cert_path, key_path, name, eku in leaves:
        if cert_path.exists() and key_path.exists():
            continue
        key = _new_key(key_type)
        _write_key(key_path, key)
        cert = _issue(name, key, root, years=3, eku=eku, crl_url=crl_url)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if not _crl_is_fresh(pki.crl):
        _write_crl(pki, root)
    return pki
