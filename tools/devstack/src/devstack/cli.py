"""``coffre-dev``: run the platform (``run``), its benchmarks (``bench``), print a dev
service token (``token backoffice``), back up or restore its databases (``backup``,
``restore``)."""

from __future__ import annotations

import argparse

from devstack.backup.cli import add_commands as add_backup_commands
from devstack.layout import workspace_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coffre-dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="start the whole platform on the embedded stack")
    run_cmd.add_argument("--exit-when-ready", action="store_true", help="stop once all are ready")
    run_cmd.add_argument("--port-offset", type=int, default=0, help="add this to every port")
    bench_cmd = sub.add_parser("bench", help="run the benchmarks on a fresh embedded stack")
    bench_cmd.add_argument("--quick", action="store_true", help="smaller volumes")
    bench_cmd.add_argument("--only", help="'backbone', 'metrics' or one service name")
    token_cmd = sub.add_parser("token", help="print a short-lived service token (development)")
    token_cmd.add_argument("identity", help="an identity of the state folder, e.g. backoffice")
    token_cmd.add_argument("--audience", default="vault", help="the service it is for")
    add_backup_commands(sub)
    args = parser.parse_args(argv)
    root = workspace_root()
    if args.command in ("backup", "restore"):
        from devstack.backup.cli import run_command

        return run_command(args, root)
    if args.command == "token":
        from devstack.identities import token_for

        print(token_for(root, args.identity, args.audience))
        return 0
    if args.command == "run":
        from devstack.runner import run

        return run(root, exit_when_ready=args.exit_when_ready, port_offset=args.port_offset)
    from devstack.bench import run_benchmarks

    return run_benchmarks(root, quick=args.quick, only=args.only)


if __name__ == "__main__":
    raise SystemExit(main())
