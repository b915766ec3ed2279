"""``coffre-vault-rotate``: rotate the master key, re-wrapping every data key, with a progress bar.

Rules: running it again after a crash or Ctrl-C resumes the rotation where its last committed
batch ended; data is never re-encrypted; each batch also writes a ``vault.rotation-progressed``
event to the outbox (the running vault publishes it). Exit codes: 0 done, 1 refused (another
rotation holds the lock), 2 bad configuration, 3 interrupted (run again to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from common.errors import CoffreError, ConfigurationError
from common.settings import load_settings
from tqdm import tqdm

from vault.domain.rotation import Progress
from vault.entrypoints.cli_support import vault_context
from vault.service import rotation
from vault.settings import VaultSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coffre-vault-rotate", description=__doc__)
    parser.add_argument("--batch-size", type=int, default=500, help="data keys per transaction")
    parser.add_argument("--max-batches", type=int, default=None, help="stop after N batches")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


async def _run(settings: VaultSettings, args: argparse.Namespace) -> int:
    bar = tqdm(unit="key", desc="re-wrapping data keys", disable=args.no_progress, file=sys.stderr)

    def on_progress(progress: Progress) -> None:
        bar.total = progress.total
        bar.n = progress.rewrapped
        bar.refresh()

    async with vault_context(settings) as (_, ctx):
        result = await rotation.rotate(
            ctx, batch_size=args.batch_size, on_progress=on_progress, max_batches=args.max_batches
        )
        bar.close()
        async with ctx.uow() as uow:
            states = [f"v{k.version}={k.state}" for k in await uow.master_keys.all()]
    status = "done" if not result.running else "paused (run again to resume)"
    print(
        f"rotation {result.rotation_id} to master version {result.to_version}: {status}; "
        f"{result.rewrapped}/{result.total} data keys re-wrapped; master keys: {', '.join(states)}"
    )
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.batch_size < 1 or args.batch_size > 10_000:
        print("--batch-size must be between 1 and 10000", file=sys.stderr)
        raise SystemExit(2)
    try:
        settings = load_settings(VaultSettings)
        raise SystemExit(asyncio.run(_run(settings, args)))
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted: the last batch was rolled back; run again to resume", file=sys.stderr)
        raise SystemExit(3) from None
    except CoffreError as exc:
        print(f"refused: {exc.code}: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
