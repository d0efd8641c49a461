"""``manage.py pubky_testnet`` — run the local Pubky testnet in the foreground.

A thin wrapper around :class:`pubky.testnet.Testnet` so developers start the whole stack the
Django way; all behaviour lives in the framework-free ``pubky.testnet`` package.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pubky.testnet import Testnet, serve_forever


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Run a local Pubky testnet (PKARR relay(s), homeserver + admin API, HTTP relay) on "
        "loopback until SIGINT/SIGTERM. Port 0 picks a free port."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data-dir", default=".data/testnet", help="SQLite data directory")
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
        parser.add_argument(
            "--relay-port", type=_port, action="append", help="relay port (repeatable)"
        )
        parser.add_argument("--homeserver-port", type=_port, default=6286)
        parser.add_argument("--http-relay-port", type=_port, default=15412)
        parser.add_argument("--admin-port", type=_port, default=6288)
        parser.add_argument("--signup-mode", choices=("open", "token_required"), default="open")
        parser.add_argument("--admin-password", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            testnet = Testnet(
                options["data_dir"],
                host=options["host"],
                relay_ports=tuple(options["relay_port"] or [15411]),
                homeserver_port=options["homeserver_port"],
                http_relay_port=options["http_relay_port"],
                admin_port=options["admin_port"],
                signup_mode=options["signup_mode"],
                admin_password=options["admin_password"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            serve_forever(testnet, out=self.stdout)
        except OSError as exc:
            raise CommandError(f"could not start the testnet: {exc}") from exc
