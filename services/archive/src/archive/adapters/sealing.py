"""Builds the sealer from settings: the signer port's adapter, one timestamper, trust material.

Rule: everything is loaded and parsed once, at start; a missing or unreadable certificate, key
or CRL stops the service with a clear configuration error rather than failing per receipt.
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import crl as asn1_crl
from common.errors import ConfigurationError
from pyhanko.keys import load_cert_from_pemder
from pyhanko.sign import signers

from archive.adapters.pyhanko_sealer import PadesSealer
from archive.adapters.seal_signers import local_key_signer, pkcs11_signer
from archive.adapters.tsa_client import KeepAliveHttpTimeStamper
from archive.domain.errors import SealFailed
from archive.settings import ArchiveSettings


def build_sealer(s: ArchiveSettings) -> PadesSealer:
    try:
        if s.seal_signer == "pkcs11":
            assert s.seal_pkcs11_module is not None
            assert s.seal_pkcs11_token_label is not None
            assert s.seal_pkcs11_key is not None
            pin = s.seal_pkcs11_pin.get_secret_value() if s.seal_pkcs11_pin else ""
            signer: signers.Signer = pkcs11_signer(
                s.seal_pkcs11_module,
                s.seal_pkcs11_token_label,
                s.seal_pkcs11_key,
                pin,
                [Path(p) for p in s.seal_chain_files],
            )
        else:
            signer = local_key_signer(
                Path(s.seal_cert_file), Path(s.seal_key_file), [Path(p) for p in s.seal_chain_files]
            )
        roots = [load_cert_from_pemder(p) for p in s.seal_trust_roots]
        crls = [asn1_crl.CertificateList.load(Path(p).read_bytes()) for p in s.seal_crl_files]
    except (OSError, ValueError, SealFailed) as exc:
        raise ConfigurationError(
            f"the seal material could not be loaded ({type(exc).__name__}); "
            "in development `make run` generates it under .state/pki"
        ) from None
    timestamper = KeepAliveHttpTimeStamper(s.tsa_url, timeout=s.tsa_timeout_seconds)
    return PadesSealer(signer, timestamper, roots, crls, workers=s.seal_workers)
