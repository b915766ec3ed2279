"""PAdES B-LT seals with pyHanko, and their offline validation.

Rules: the seal is a PAdES baseline signature with an RFC 3161 timestamp and the validation
material (chain, CRLs) embedded, so it validates offline for years (B-LT); validation never
fetches anything (`allow_fetching=False`) and trusts only the configured roots. One timestamper
and one signer (its key parsed once) serve every receipt. Signing and validating are CPU-bound,
so both run on the sealer's own worker threads, never on the event loop; each worker keeps its
event loop, its validation context and its TSA connection between receipts. How the signature
is built is in `pades_signing`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from archive.adapters.pades_signing import PresignCache, sign_b_lt, use_encoded_attributes
from archive.domain.errors import SealFailed
from archive.domain.seal import SealCheck

T = TypeVar("T")
DEFAULT_WORKERS = 4


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
        *,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)
        use_encoded_attributes(signer)
        self._signer = signer
        self._timestamper = timestamper
        self._roots = trust_roots
        self._crls = crls
        self._local = threading.local()
        self._presign = PresignCache(crls)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seal")
        self._runners: list[asyncio.Runner] = []
        self._context_lock = threading.Lock()
        for shared in (*trust_roots, *crls, signer.signing_cert):
            _ = shared.native if shared is not None else None  # parsed now: see `_context`

    async def _on_worker(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def _runner(self) -> asyncio.Runner:
        """The worker thread's own event loop, kept between receipts (pyHanko is async inside)."""
        found: asyncio.Runner | None = getattr(self._local, "runner", None)
        if found is None:
            found = asyncio.Runner()
            self._local.runner = found
            self._runners.append(found)
        return found

    def close(self) -> None:
        """Stop the workers (after the seals in progress) and close their loops."""
        self._pool.shutdown(wait=True)
        for runner in self._runners:
            runner.close()
        close = getattr(self._timestamper, "close", None)
        if callable(close):
            close()

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
            return await self._on_worker(lambda: self._seal_sync(pdf))
        except SealFailed:
            raise
        except Exception as exc:
            raise SealFailed(f"the seal could not be applied ({type(exc).__name__})") from None

    def _seal_sync(self, pdf: bytes) -> bytes:
        return self._runner().run(
            sign_b_lt(pdf, self._signer, self._timestamper, self._context(), self._presign)
        )

    async def extend(self, pdf: bytes) -> bytes:
        """B-LTA: embed the validation material of the last timestamp and add a document
        timestamp over everything, so the seal outlives the TSA certificate."""
        try:
            return await self._on_worker(lambda: self._extend_sync(pdf))
        except Exception as exc:
            raise SealFailed(f"the archival timestamp failed ({type(exc).__name__})") from None

    def _extend_sync(self, pdf: bytes) -> bytes:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        stamper = signers.PdfTimeStamper(self._timestamper)
        out = stamper.update_archival_timestamp_chain(reader, self._context(), in_place=False)
        return bytes(out.getbuffer())

    async def check(self, pdf: bytes) -> SealCheck:
        return await self._on_worker(lambda: self._check_sync(pdf))

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
