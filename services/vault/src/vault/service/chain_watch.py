"""The vault's periodic check of its own audit chain, for the ``coffre_vault_audit_chain_intact``
gauge (and its alert).

Rules:
- A check is cheap: it walks only the rows after the last head it verified (the first check of
  a process starts at the latest anchor that verifies, or at the first entry when there is none),
  after checking that the row of that head is still there, unedited, with the same hash.
- The head the vault recorded (``audit_head``) and the latest anchor must lie on the chain, so a
  cut-off tail is caught like an edited, deleted or reordered row.
- Every ``full_every_seconds`` (0: never) a check walks the whole log again, so an edit to a row
  verified earlier is caught too.
- A tampered chain sets the gauge to 0 and logs ``audit_chain_broken``; it stays 0 (the next
  checks start from the same verified head) until the log verifies again. A check that cannot
  read the log (database down) changes nothing and is retried at the next tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from common.logging import get_logger

from vault.domain.audit import ChainVerifier, Head, VerifyReport, check_start
from vault.service import metrics
from vault.service.context import VaultContext

log = get_logger(__name__)


async def verify_after(
    ctx: VaultContext, start: Head | None, anchor: Head | None = None
) -> VerifyReport:
    """Verify the rows after ``start`` (a head verified before; None: the whole log), with the
    recorded head and ``anchor`` required on the chain."""
    async with ctx.uow() as uow:
        recorded = await uow.audit.head()
        if start is None:
            verifier = ChainVerifier(recorded, anchor)
        else:
            verifier = ChainVerifier.after(start, recorded, anchor)
        first = start is not None
        async for entry in uow.audit.entries(start.seq - 1 if start else 0):
            if first and start is not None:
                first = False
                problem = check_start(start, entry)
                if problem is not None:
                    return VerifyReport(0, start, problem)
                continue
            if not verifier.feed(entry):
                break
        if first and start is not None:  # no row at all from the verified head on
            return VerifyReport(0, start, check_start(start, None))
    return verifier.report()


class ChainWatch:
    """Remembers how far the chain is verified; ``check`` verifies what came since."""

    def __init__(
        self,
        ctx: VaultContext,
        *,
        full_every_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.full_every_seconds = full_every_seconds
        self.monotonic = monotonic
        self.verified: Head | None = None
        self._last_full = monotonic()

    async def check(self, anchor: Head | None = None) -> VerifyReport:
        """One check: incremental from the last verified head (or ``anchor`` the first time),
        or the whole log when a full walk is due; the gauge is set from the result."""
        start = self.verified or anchor
        now = self.monotonic()
        if self.full_every_seconds > 0 and now - self._last_full >= self.full_every_seconds:
            start, self._last_full = None, now
        report = await verify_after(self.ctx, start, anchor)
        metrics.chain_checked(report.ok)
        if report.ok:
            self.verified = report.head or start
        else:
            assert report.problem is not None
            log.error("audit_chain_broken", seq=report.problem.seq, kind=str(report.problem.kind))
        return report
