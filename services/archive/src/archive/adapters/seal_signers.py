"""Where the seal key lives: the signer port's adapters.

Rules: the service never handles a seal key itself; it asks a `SealSignerFactory` for a
pyHanko `Signer` once at start and reuses it for every receipt.
- `local-key` (development, tests): a PEM key and certificate on disk (the dev PKI), parsed
  once — `CachedKeySigner` keeps the parsed key instead of re-parsing it per signature.
- `pkcs11` (production): the key stays in an HSM; pyHanko's `PKCS11Signer` signs through the
  token (needs the `python-pkcs11` package and the vendor's module, e.g. a CloudHSM or Luna
  library); configured with `ARCHIVE_SEAL_PKCS11_*`.
- A remote signing service (a QTSP's remote seal API) plugs in the same way: a `Signer`
  subclass whose `async_sign_raw` posts the digest to the service (not built here).
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from archive.domain.errors import SealFailed


class CachedKeySigner(signers.SimpleSigner):
    """pyHanko's `SimpleSigner` with the private key parsed once (RSA PKCS#1 v1.5 or ECDSA)."""

    def __init__(
        self,
        cert: asn1_x509.Certificate,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        chain: list[asn1_x509.Certificate],
    ) -> None:
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        super().__init__(
            signing_cert=cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs(chain),
        )
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if mechanism.signature_algo != "rsassa_pkcs1v15":
                return super().sign_raw(data, digest_algorithm)
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)
        return self._key.sign(data, ec.ECDSA(hash_algo))


def local_key_signer(cert_file: Path, key_file: Path, chain_files: list[Path]) -> CachedKeySigner:
    """The development signer: key and certificate from PEM files (parsed here, once)."""
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert = load_cert_from_pemder(str(cert_file))
        chain = list(load_certs_from_pemder([str(p) for p in chain_files]))
    except (OSError, ValueError) as exc:
        raise SealFailed(f"the seal key could not be loaded ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SealFailed("the seal key must be RSA or ECDSA")
    return CachedKeySigner(cert, key, chain)


def pkcs11_signer(
    module: str, token_label: str, key_label: str, pin: str, chain_files: list[Path]
) -> signers.Signer:
    """The production signer: the key never leaves the HSM (pyHanko's PKCS#11 support).

    The token's private key and its certificate carry the same label; the chain comes from
    files. The session is opened and the key and certificate are looked up here, once: a wrong
    module, token, PIN or label stops the service at start, not at the first receipt. python-
    pkcs11 serialises the operations of one session, so concurrent seals share it safely.
    """
    try:
        from pkcs11.exceptions import PKCS11Error as TokenError
        from pkcs11.exceptions import UserAlreadyLoggedIn
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11
        from pyhanko.sign.general import SigningError
    except ImportError:  # pragma: no cover - depends on the deployment image
        raise SealFailed("PKCS#11 support is not installed (python-pkcs11)") from None
    try:
        chain = list(load_certs_from_pemder([str(p) for p in chain_files]))
        criteria = TokenCriteria(label=token_label)
        try:
            session = pkcs11.open_pkcs11_session(module, token_criteria=criteria, user_pin=pin)
        except UserAlreadyLoggedIn:  # another session of this process logged in already
            session = pkcs11.open_pkcs11_session(module, token_criteria=criteria)
        # Hash here, sign the digest in the HSM: many tokens (SoftHSM2 among them) offer the raw
        # ECDSA / RSA PKCS#1 v1.5 mechanisms only, not their hash-then-sign variants.
        signer = pkcs11.PKCS11Signer(
            session, key_label=key_label, cert_label=key_label, ca_chain=chain,
            use_raw_mechanism=True,
        )  # fmt: skip
        if signer.signing_cert is None:  # looks the certificate and the key up now
            raise SealFailed("the HSM has no certificate for the seal key")
    except (OSError, ValueError, TokenError, SigningError) as exc:
        raise SealFailed(f"the HSM seal key could not be opened ({type(exc).__name__})") from None
    return signer
