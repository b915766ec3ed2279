"""``coffre-vault-audit-verify``: walk the hash-chained audit log and report any tampering.

Rules: the chain is checked entry by entry (edited, deleted or reordered rows); the head the
vault recorded (``audit_head``), the latest signed anchor (by default: the newest checkpoint in
the anchor folder whose signature holds under the anchor public key) and, when given, a head
kept elsewhere (``--expect-head SEQ:HASH``, e.g. from an ``ErasureCompleted`` proof) must all
be on the chain — so a log whose newest rows were deleted and whose head was moved back is
reported as truncated. Exit codes: 0 intact, 1 tampered (or no anchor verifies), 2 bad
configuration or arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from common.errors import ConfigurationError
from common.settings import load_settings

from vault.adapters.anchors import FileAnchorStore, load_anchor_public_key, public_key_file
from vault.domain.anchor import Checkpoint
from vault.domain.audit import Head, ProblemKind, VerifyReport
from vault.entrypoints.cli_support import vault_context
from vault.service.anchoring import verify_with
from vault.settings import VaultSettings


def _head(text: str) -> Head:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH (hash as 64 hex digits)")
    return Head(int(seq), digest.lower())


async def verify(
    settings: VaultSettings, expected: Head | None, anchor: Checkpoint | None = None
) -> VerifyReport:
    """Walk the log once; the recorded head, the anchor and the expected head must lie on it."""
    async with vault_context(settings) as (_, ctx):
        return await verify_with(ctx, expected, anchor.head if anchor else None)


def latest_anchor(folder: Path, public_key: Path) -> Checkpoint | None:
    """The newest anchor that verifies; exits 1 when anchors exist but none verifies."""
    if not public_key.exists():
        print(f"no anchor public key at {public_key}: anchors not checked", file=sys.stderr)
        return None
    anchor, rejected = FileAnchorStore(folder).latest(load_anchor_public_key(public_key))
    for name in rejected:
        print(f"anchor {name} does not verify: ignored", file=sys.stderr)
    if anchor is None and rejected:
        print("audit anchors BROKEN: no anchor verifies under the anchor public key")
        raise SystemExit(1)
    if anchor is None:
        print(f"no anchor in {folder}: a cut-off tail cannot be detected", file=sys.stderr)
    return anchor


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coffre-vault-audit-verify", description=__doc__)
    parser.add_argument("--expect-head", type=_head, default=None, help="SEQ:HASH kept elsewhere")
    parser.add_argument("--anchor-dir", type=Path, default=None, help="folder of checkpoints")
    parser.add_argument("--anchor-public-key", type=Path, default=None, help="PEM public key")
    parser.add_argument("--no-anchor", action="store_true", help="do not check anchors")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(VaultSettings)
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    anchor = None
    if not args.no_anchor:
        folder = args.anchor_dir or Path(settings.anchor_dir)
        key = args.anchor_public_key or public_key_file(settings.anchor_key_file)
        anchor = latest_anchor(folder, key)
    report = asyncio.run(verify(settings, args.expect_head, anchor))
    _print(report, anchor)
    raise SystemExit(0 if report.ok else 1)


def _print(report: VerifyReport, anchor: Checkpoint | None) -> None:
    if report.ok:
        head = report.head
        where = f"head seq {head.seq} hash {head.hash}" if head else "empty log"
        anchored = f"; anchored head seq {anchor.seq} is on the chain" if anchor else ""
        print(f"audit chain intact: {report.checked} entries, {where}{anchored}")
        return
    problem = report.problem
    assert problem is not None
    if anchor and problem.seq == anchor.seq and problem.kind is ProblemKind.MISSING:
        print(
            f"audit chain TRUNCATED: the head anchored at {anchor.anchored_at.isoformat()} "
            f"(seq {anchor.seq}) is missing; the log ends at seq {report.checked}"
        )
        return
    print(
        f"audit chain BROKEN at seq {problem.seq}: {problem.kind} "
        f"({problem.message}); {report.checked} entries verified before it"
    )


if __name__ == "__main__":
    main()
