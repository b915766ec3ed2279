"""How one PAdES B-LT seal is built with pyHanko, at the cost of one timestamp and one signature.

Rules:
- Baseline B-LT in one revision: the validation material (seal chain, TSA chain, CRLs) goes
  into the document security store of the signed revision itself (pyHanko's
  `TOGETHER_WITH_SIGNATURE`, no VRI), so the seal covers the whole file and the file is written
  once; the signature carries an RFC 3161 timestamp from the TSA over its value.
- The validation material is the same for every receipt: it is collected once (the seal
  certificate and the TSA certificate validated against the trust roots and CRLs) and reused
  until the first of its CRLs' next update or certificates' expiry, and at most
  `REFRESH_AFTER`; it is still embedded in every sealed receipt.
- A fixed room for the CMS skips pyHanko's size-estimating dry run; the input buffer is signed
  in place (it belongs to this call), so the document is copied and hashed once.
- The ESS signing-certificate-v2 attribute (the hash and issuer/serial of the seal certificate)
  is the same in every seal: it is encoded once (asn1crypto re-encodes a freshly built one at
  ~10 ms each); the other signed attributes are pyHanko's, PAdES rules unchanged.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from asn1crypto import crl as asn1_crl
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.attributes import CMSAttributeProvider
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.pdf_cms import (
    CAdESSignedAttributeProviderSpec,
    PdfCMSSignedAttributes,
)
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfSigningSession,
    PreSignValidationStatus,
    SigDSSPlacementPreference,
)
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator import ValidationContext

FIELD_NAME = "CoffreSeal"
RESERVED_BYTES = 16384
"""Room for the CMS (chain + timestamp token): a fixed size skips pyHanko's dry-run signature."""
REFRESH_AFTER = timedelta(hours=1)
DSS_IN_SIGNED_REVISION = DSSContentSettings(
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False
)


class _EncodedSigningCertificate(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, cert: asn1_x509.Certificate) -> None:
        self._der = as_signing_certificate_v2(cert).dump()

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(self._der)


class PadesAttributes(CAdESSignedAttributeProviderSpec):
    """pyHanko's PAdES signed attributes (no signing time, no CAdES extras), the ESS
    signing-certificate-v2 value encoded once for the signer's certificate."""

    def __init__(self, cert: asn1_x509.Certificate) -> None:
        super().__init__(PdfCMSSignedAttributes(), cert, is_pades=True, timestamper=None)
        self._ess = _EncodedSigningCertificate(cert)

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterable[CMSAttributeProvider]:
        yield self._ess


def use_encoded_attributes(signer: signers.Signer) -> None:
    """Give the signer the once-encoded PAdES attributes (unless it brings its own spec)."""
    if signer.signed_attr_prov_spec is None and signer.signing_cert is not None:
        signer.signed_attr_prov_spec = PadesAttributes(signer.signing_cert)


class PresignCache:
    """The validation material of the seal and TSA chains, collected once, kept while valid."""

    def __init__(
        self,
        crls: list[asn1_crl.CertificateList],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._crls = crls
        self._now = now
        self._lock = threading.Lock()
        self._status: PreSignValidationStatus | None = None
        self._until = datetime.min.replace(tzinfo=UTC)
        self.collected = 0
        """How many times the material was collected (a figure for tests and the bench)."""

    def _valid_until(self, status: PreSignValidationStatus, now: datetime) -> datetime:
        until = now + REFRESH_AFTER
        for crl in self._crls:
            next_update = crl["tbs_cert_list"]["next_update"].native
            if isinstance(next_update, datetime):
                until = min(until, next_update)
        for path in status.validation_paths:
            for cert in path.iter_certs(include_root=True):
                until = min(until, cert.not_valid_after)
        return until

    async def get(self, session: PdfSigningSession) -> PreSignValidationStatus:
        now = self._now()
        with self._lock:
            if self._status is not None and now < self._until:
                return self._status
        status = await session.perform_presign_validation(None)
        if status is None:  # pragma: no cover - a validation context is always given
            raise ValueError("pyHanko collected no validation material")
        with self._lock:
            self._status, self._until = status, self._valid_until(status, now)
            self.collected += 1
        return status


def _metadata(context: ValidationContext) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        use_pades_lta=False,
        validation_context=context,
        md_algorithm="sha256",
        reason="Coffre receipt archive seal",
        dss_settings=DSS_IN_SIGNED_REVISION,
    )


async def sign_b_lt(
    pdf: bytes,
    signer: signers.Signer,
    timestamper: TimeStamper,
    context: ValidationContext,
    presign: PresignCache,
) -> bytes:
    """The sealed PDF: one incremental revision with the signature, its timestamp and the DSS."""
    buffer = io.BytesIO(pdf)
    writer = IncrementalPdfFileWriter(buffer, strict=False)
    pdf_signer = signers.PdfSigner(_metadata(context), signer=signer, timestamper=timestamper)
    session = pdf_signer.init_signing_session(writer)
    validation = await presign.get(session)
    tbs = session.prepare_tbs_document(validation_info=validation, bytes_reserved=RESERVED_BYTES)
    digest, output = tbs.digest_tbs_document(in_place=True)
    signed = await tbs.perform_signature(
        document_digest=digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=session.system_time),
    )
    await signed.post_signature_processing(output)
    return buffer.getvalue()  # signed in place: `output` is `buffer`
