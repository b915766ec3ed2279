"""``coffre-vault-audit-verify``: walk the hash-chained audit log and report any tampering.

Rules: the chain is checked entry by entry (edited, deleted or reordered rows); the head the
vault recorded (``audit_head``) and, when given, a head kept outside the vault (``--expect-head
SEQ:HASH``, e.g. from an ``ErasureCompleted`` proof) must both be on the chain, which also
catches a cut-off tail. Exit codes: 0 intact, 1 tampered, 2 bad configuration or arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from common.errors import ConfigurationError
from common.settings import load_settings

from vault.domain.audit import ChainVerifier, Head, VerifyReport
from vault.entrypoints.cli_support import vault_context
from vault.settings import VaultSettings


def _head(text: str) -> Head:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH (hash as 64 hex digits)")
    return Head(int(seq), digest.lower())


async def verify(settings: VaultSettings, expected: Head | None) -> VerifyReport:
    """Walk the log once; the recorded head and the expected one must both lie on the chain."""
    async with vault_context(settings) as (_, ctx), ctx.uow() as uow:
        verifier = ChainVerifier(await uow.audit.head(), expected)
        async for entry in uow.audit.entries():
            if not verifier.feed(entry):
                break
        return verifier.report()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coffre-vault-audit-verify", description=__doc__)
    parser.add_argument("--expect-head", type=_head, default=None, help="SEQ:HASH kept elsewhere")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(VaultSettings)
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    report = asyncio.run(verify(settings, args.expect_head))
    if report.ok:
        head = report.head
        where = f"head seq {head.seq} hash {head.hash}" if head else "empty log"
        print(f"audit chain intact: {report.checked} entries, {where}")
        raise SystemExit(0)
    assert report.problem is not None
    print(
        f"audit chain BROKEN at seq {report.problem.seq}: {report.problem.kind} "
        f"({report.problem.message}); {report.checked} entries verified before it"
    )
    raise SystemExit(1)


if __name__ == "__main__":
    main()
