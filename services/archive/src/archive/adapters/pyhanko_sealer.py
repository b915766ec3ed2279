"""PAdES B-LT seals with pyHanko, and their offline validation.

Rules: the seal is a PAdES baseline signature with an RFC 3161 timestamp and the validation
material (chain, CRLs) embedded, so it validates offline for years (B-LT); validation never
fetches anything (`allow_fetching=False`) and trusts only the configured roots. One timestamper
and one signer (its key parsed once) serve every receipt. Signing and validating are CPU-bound,
so both run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from archive.domain.errors import SealFailed
from archive.domain.seal import SealCheck

FIELD_NAME = "CoffreSeal"
RESERVED_BYTES = 16384
"""Room for the CMS (chain + timestamp token): a fixed size skips pyHanko's dry-run signature."""


def _name(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.human_friendly)


class PadesSealer:
    """Seals and validates PDFs with one signer, one timestamper and fixed trust roots."""

    def __init__(
        self,
        signer: signers.Signer,
        timestamper: TimeStamper,
        trust_roots: list[asn1_x509.Certificate],
        crls: list[asn1_crl.CertificateList],
    ) -> None:
        logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)
        self._signer = signer
        self._timestamper = timestamper
        self._roots = trust_roots
        self._crls = crls
        self._local = threading.local()
        self._context_lock = threading.Lock()
        for shared in (*trust_roots, *crls, signer.signing_cert):
            _ = shared.native if shared is not None else None  # parsed now: see `_context`

    def _context(self) -> ValidationContext:
        """One validation context per worker thread: it caches validated paths between seals."""
        found: ValidationContext | None = getattr(self._local, "context", None)
        if found is None:
            # asn1crypto parses shared certificates lazily, and not thread-safely: two worker
            # threads building their first context at once could see a half-parsed root.
            with self._context_lock:
                found = ValidationContext(
                    trust_roots=self._roots, crls=self._crls, allow_fetching=False
                )
            self._local.context = found
        return found

    async def seal(self, pdf: bytes) -> bytes:
        try:
            return await asyncio.to_thread(self._seal_sync, pdf)
        except SealFailed:
            raise
        except Exception as exc:
            raise SealFailed(f"the seal could not be applied ({type(exc).__name__})") from None

    def _seal_sync(self, pdf: bytes) -> bytes:
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            use_pades_lta=False,
            validation_context=self._context(),
            md_algorithm="sha256",
            reason="Coffre receipt archive seal",
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        pdf_signer = signers.PdfSigner(meta, signer=self._signer, timestamper=self._timestamper)
        out = pdf_signer.sign_pdf(writer, bytes_reserved=RESERVED_BYTES, in_place=False)
        return bytes(out.getbuffer())

    async def extend(self, pdf: bytes) -> bytes:
        """B-LTA: embed the validation material of the last timestamp and add a document
        timestamp over everything, so the seal outlives the TSA certificate."""
        try:
            return await asyncio.to_thread(self._extend_sync, pdf)
        except Exception as exc:
            raise SealFailed(f"the archival timestamp failed ({type(exc).__name__})") from None

    def _extend_sync(self, pdf: bytes) -> bytes:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        stamper = signers.PdfTimeStamper(self._timestamper)
        out = stamper.update_archival_timestamp_chain(reader, self._context(), in_place=False)
        return bytes(out.getbuffer())

    async def check(self, pdf: bytes) -> SealCheck:
        return await asyncio.to_thread(self._check_sync, pdf)

    def _check_sync(self, pdf: bytes) -> SealCheck:
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            sigs = reader.embedded_regular_signatures
        except Exception as exc:
            return _broken(f"unreadable PDF ({type(exc).__name__})")
        if not sigs:
            return _broken("no seal in the document")
        try:
            status = validate_pdf_signature(sigs[0], signer_validation_context=self._context())
        except Exception as exc:
            return _broken(f"the seal could not be validated ({type(exc).__name__})")
        ts = status.timestamp_validity
        covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
            status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
            and status.modification_level is not None
            and status.modification_level <= ModificationLevel.LTA_UPDATES
        )
        problems = [] if status.bottom_line else ["the signature does not validate"]
        problems += self._archival_problems(reader)
        if not covers:
            problems.append("the document was changed after it was sealed")
        path = status.validation_path
        chain = tuple(_name(c) for c in path.iter_certs(include_root=True)) if path else ()
        return SealCheck(
            intact=bool(status.intact),
            valid=bool(status.valid),
            trusted=bool(status.trusted),
            covers_whole_file=covers,
            signer=_name(status.signing_cert),
            chain=chain,
            signed_at=status.signer_reported_dt,
            timestamp_at=ts.timestamp if ts is not None and ts.intact and ts.valid else None,
            level=_level(reader, ts is not None),
            problems=tuple(problems),
        )

    def _archival_problems(self, reader: PdfFileReader) -> list[str]:
        """Each archival document timestamp (B-LTA) must be intact and chain to a trusted root."""
        problems = []
        for stamp in reader.embedded_timestamp_signatures:
            try:
                found = validate_pdf_timestamp(stamp, validation_context=self._context())
                good = found.intact and found.valid and found.trusted
            except Exception:
                good = False
            if not good:
                problems.append("an archival timestamp does not validate")
        return problems


def _level(reader: PdfFileReader, timestamped: bool) -> str:
    if not timestamped:
        return "PAdES-B-B"
    if reader.embedded_timestamp_signatures:
        return "PAdES-B-LTA"
    dss = reader.root.get("/DSS")
    return "PAdES-B-LT" if dss is not None else "PAdES-B-T"


def _broken(reason: str) -> SealCheck:
    return SealCheck(
        intact=False,
        valid=False,
        trusted=False,
        covers_whole_file=False,
        signer="",
        chain=(),
        signed_at=None,
        timestamp_at=None,
        level="",
        problems=(reason,),
    )
