"""The `crayon` command: serve, migrate, hash-password and the operator's tools."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app import migrate
from app.logs import configure_logging, flush_logs_before_signal_exit
from app.settings import Settings, SettingsError

Handler = Callable[[argparse.Namespace, Settings], int]


def _systemd_fd() -> int | None:
    """The listening socket systemd passed us (socket activation), if any."""
    if os.environ.get("LISTEN_PID") not in (None, str(os.getpid())):
        return None
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return None
    return 3 if count >= 1 else None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.replication.runner import before_serve

    outcome = before_serve(args, settings)  # --replicate / CRAYON_REPLICA_URL: exec Litestream
    if outcome is not None:
        return outcome
    problem = migrate.pending_message(settings.database_path)
    if problem:
        print(f"crayon: not serving. {problem}", file=sys.stderr)
        return 2
    from app.server import limit_server_error_logs, raise_open_files_limit, server_options

    raise_open_files_limit()
    limit_server_error_logs()
    flush_logs_before_signal_exit()
    host = args.host or settings.host
    port = args.port or settings.port
    reload = args.reload or settings.reload
    fd = None if reload else _systemd_fd()
    common: dict[str, Any] = {
        # Off: uvicorn would take the client from X-Forwarded-For for any allowed peer (and
        # loopback by default). app/auth/clientaddr.py decides it, trusting only the
        # configured proxy hops (CRAYON_TRUSTED_PROXY_HOPS, CRAYON_FORWARDED_ALLOW_IPS).
        "proxy_headers": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
        **server_options(settings),
    }
    if reload:
        # The reloader pickles its config for a spawned child; the head-deadline protocol is a
        # class made at run time, so the development reloader runs uvicorn's plain h11.
        common.pop("http")
        uvicorn.run(
            "app.asgi:create",
            factory=True,
            host=host,
            port=port,
            reload=True,
            reload_dirs=[str(Path(__file__).parent)],
            **common,
        )
    elif fd is not None:
        from app.asgi import create

        uvicorn.run(create(), fd=fd, **common)
    else:
        from app.asgi import create

        uvicorn.run(create(), host=host, port=port, **common)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    db = settings.database_path
    before = migrate.current_revision(db)
    if args.downgrade:
        migrate.downgrade(db, args.downgrade)
    else:
        migrate.upgrade(db)
    after = migrate.current_revision(db)
    print(f"database {db}: {before or 'empty'} -> {after or 'empty'}")
    return 0


def cmd_hash_password(args: argparse.Namespace, settings: Settings) -> int:
    from app.auth.passwords import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Admin password: ")
        if getpass.getpass("Again: ") != password:
            print("crayon: the two passwords differ.", file=sys.stderr)
            return 2
    if len(password) < 12:
        print("crayon: use at least 12 characters.", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from app.analysis.training import train_command
    from app.storage.factory import build_storage

    try:
        train_command(
            build_storage(settings),
            from_folder=args.from_folder,
            generate=args.generate,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"crayon: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.web.demo_content import ensure_demo

    problem = migrate.pending_message(settings.database_path)
    if problem:
        print(f"crayon: {problem}", file=sys.stderr)
        return 2
    ensure_demo(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crayon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", help="address to bind (default CRAYON_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default CRAYON_PORT or 8000)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    serve.add_argument(
        "--replicate",
        action="store_true",
        help="run as Litestream's child, replicating to CRAYON_REPLICA_URL (implied when set)",
    )
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    serve.set_defaults(handler=cmd_serve)

    mig = sub.add_parser("migrate", help="apply pending database migrations")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead")
    mig.set_defaults(handler=cmd_migrate)

    hp = sub.add_parser("hash-password", help="print an argon2 hash of the admin password")
    hp.add_argument("--stdin", action="store_true", help="read the password from stdin")
    hp.set_defaults(handler=cmd_hash_password, needs_settings=False)

    train = sub.add_parser("train", help="train a reference model and store it under models/")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from", dest="from_folder", metavar="FOLDER", help="FOLDER/<age group>/*.png|jpg|webp"
    )
    source.add_argument(
        "--generate", type=int, metavar="N", help="N synthetic drawings per age group"
    )
    train.add_argument("--seed", type=int, default=0, help="generator seed (with --generate)")
    train.set_defaults(handler=cmd_train)

    demo = sub.add_parser("demo", help="demo content")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    ensure = demo_sub.add_parser(
        "ensure", help="generate, analyse and store the demo samples (idempotent)"
    )
    ensure.set_defaults(handler=cmd_demo)

    from app.replication.commands import add_parser as add_db_parser

    add_db_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        if getattr(args, "needs_settings", True):
            print(f"crayon: invalid settings: {exc}", file=sys.stderr)
            return 2
        settings = Settings()
    configure_logging(settings.log_level)
    handler: Handler = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
