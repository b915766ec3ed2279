"""`coffre-receipts`: send receipts from a desktop to the archive, like the mobile app does.

    coffre-receipts upload FILE... [--watch FOLDER] [--email you@example.com]

Rules: it logs in against auth like any client (password, then the second factor it asks
for), or takes an access token from COFFRE_ACCESS_TOKEN; it never prints or stores a secret;
each file is uploaded through the archive's public API with a progress bar; `--watch` keeps
uploading every new file that appears in FOLDER (once its size is stable) until Ctrl-C; the
exit code is 1 when any file was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from pathlib import Path

import httpx
from tqdm import tqdm

from archive.entrypoints.client import ClientError, Outcome, ReceiptsClient

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".pdf"}


def _prompt(question: str, secret: bool) -> str:
    return getpass.getpass(question) if secret else input(question)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coffre-receipts", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upload", help="upload receipts (JPEG, PNG, WebP, HEIC, PDF)")
    up.add_argument("files", nargs="*", type=Path)
    up.add_argument("--watch", type=Path, help="keep uploading new files from this folder")
    up.add_argument("--email", default=os.environ.get("COFFRE_EMAIL"))
    up.add_argument(
        "--auth-url", default=os.environ.get("COFFRE_AUTH_URL", "http://127.0.0.1:8001")
    )
    up.add_argument(
        "--archive-url", default=os.environ.get("COFFRE_ARCHIVE_URL", "http://127.0.0.1:8006")
    )
    up.add_argument("--interval", type=float, default=2.0, help="seconds between folder scans")
    return p


async def upload_all(
    client: ReceiptsClient, files: list[Path], *, quiet: bool = False
) -> list[Outcome]:
    outcomes = []
    with tqdm(total=len(files), unit="file", disable=quiet or len(files) < 2) as bar:
        for path in files:
            outcome = await client.upload(path)
            outcomes.append(outcome)
            mark = "ok" if outcome.ok else "REFUSED"
            tqdm.write(f"{mark:>8}  {path.name}: {outcome.detail}", file=sys.stderr)
            bar.update(1)
    return outcomes


async def watch(client: ReceiptsClient, folder: Path, interval: float, stop: asyncio.Event) -> int:
    """Upload each new receipt file in `folder` once its size stopped changing."""
    seen = set(await asyncio.to_thread(_sizes, folder))
    previous: dict[Path, int] = {}
    refused = 0
    while not stop.is_set():
        sizes = await asyncio.to_thread(_sizes, folder)
        ready = [p for p, n in sizes.items() if p not in seen and n > 0 and previous.get(p) == n]
        previous = sizes
        for outcome in await upload_all(client, sorted(ready)):
            seen.add(outcome.path)
            refused += not outcome.ok
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    return refused


def _sizes(folder: Path) -> dict[Path, int]:
    """Receipt files in the folder and their sizes (a file is taken once two scans agree)."""
    found = {}
    for path in folder.iterdir():
        if path.suffix.lower() in SUFFIXES and path.is_file():
            found[path] = path.stat().st_size
    return found


async def run(args: argparse.Namespace) -> int:
    async with (
        httpx.AsyncClient(base_url=args.auth_url, timeout=30) as auth,
        httpx.AsyncClient(base_url=args.archive_url, timeout=120) as archive,
    ):
        client = ReceiptsClient(auth, archive)
        token = os.environ.get("COFFRE_ACCESS_TOKEN")
        if token:
            client.use_token(token)
        else:
            email = args.email or await asyncio.to_thread(input, "e-mail: ")
            password = await asyncio.to_thread(getpass.getpass, "password: ")
            await client.login(email, password, _prompt)
        outcomes = await upload_all(client, list(args.files))
        refused = sum(not o.ok for o in outcomes)
        if args.watch:
            print(f"watching {args.watch} (Ctrl-C to stop)", file=sys.stderr)
            refused += await watch(client, args.watch, args.interval, asyncio.Event())
        return 1 if refused else 0


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if not args.files and not args.watch:
        parser().error("give files to upload, or --watch FOLDER")
    try:
        raise SystemExit(asyncio.run(run(args)))
    except ClientError as exc:
        print(f"coffre-receipts: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
