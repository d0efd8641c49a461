"""``python -m pubky`` — a small command line for keys, PKARR records and homeserver files.

Meant for developers poking at a testnet or a real deployment: every command prints plain
text, exits non-zero with a one-line ``error: …`` on bad input or a failed request (never a
traceback for user errors), and takes the relays from ``--relay`` (repeatable) or the
``PUBKY_RELAYS`` environment variable (comma-separated), defaulting to the local testnet relay.

Secrets are never taken from the command line (they would show up in ``ps``): pass
``--secret-file`` (64 hex characters or 32 raw bytes) or set ``PUBKY_SECRET_KEY`` (hex).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from pubky.errors import PubkyError, ResolutionError
from pubky.homeserver_client import HomeserverClient
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket, now_us
from pubky.relay_client import RelayClient
from pubky.urls import PubkyUrl

__all__ = ["main"]

DEFAULT_RELAY = "http://127.0.0.1:15411"
SECRET_ENV = "PUBKY_SECRET_KEY"  # noqa: S105 (the variable name, not a secret)
RELAYS_ENV = "PUBKY_RELAYS"


class CliError(Exception):
    """A user-facing error: printed as ``error: <message>``, exit status 1."""


# --- shared helpers ------------------------------------------------------------------------


def _relays(args: argparse.Namespace) -> list[str]:
    if args.relay:
        return list(args.relay)
    env = os.environ.get(RELAYS_ENV, "")
    relays = [r.strip() for r in env.split(",") if r.strip()]
    return relays or [DEFAULT_RELAY]


def _relay_client(args: argparse.Namespace) -> RelayClient:
    try:
        return RelayClient(_relays(args), timeout=args.timeout)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _hs_client(args: argparse.Namespace) -> HomeserverClient:
    return HomeserverClient(
        _relay_client(args), timeout=args.timeout, testnet_host=args.testnet_host
    )


def _load_keypair(args: argparse.Namespace) -> Keypair:
    path: str | None = getattr(args, "secret_file", None)
    if path:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read secret file {path}: {exc.strerror or exc}") from exc
        return _keypair_from(data, f"secret file {path}")
    env = os.environ.get(SECRET_ENV)
    if env:
        return _keypair_from(env.encode(), SECRET_ENV)
    raise CliError(f"a secret key is required: --secret-file PATH or {SECRET_ENV}=<hex>")


def _keypair_from(data: bytes, source: str) -> Keypair:
    text = data.strip()
    if len(text) == 64:
        try:
            return Keypair.from_secret(bytes.fromhex(text.decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            pass
    if len(data) == 32:
        return Keypair.from_secret(data)
    raise CliError(f"{source}: expected 64 hex characters or 32 raw bytes")


def _key(text: str) -> PublicKey:
    try:
        return PublicKey.parse(text)
    except PubkyError as exc:
        raise CliError(f"invalid public key {text!r}: {exc}") from exc


def _url(text: str) -> PubkyUrl:
    try:
        return PubkyUrl.parse(text)
    except PubkyError as exc:
        raise CliError(f"invalid Pubky URL {text!r}: {exc}") from exc


def _iso(timestamp_us: int) -> str:
    moment = dt.datetime.fromtimestamp(timestamp_us / 1_000_000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds")


# --- commands ------------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace, out: IO[str]) -> int:
    keypair = Keypair.random()
    if args.out:
        path = Path(args.out)
        if path.exists() and not args.force:
            raise CliError(f"{path} exists (use --force to overwrite)")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(keypair.secret.hex() + "\n")
    if args.json:
        doc = {"public_key": keypair.public_key.z32()}
        if not args.out:
            doc["secret_key"] = keypair.secret.hex()
        print(json.dumps(doc), file=out)
        return 0
    print(f"public key: {keypair.public_key.z32()}", file=out)
    if args.out:
        print(f"secret key written to {args.out}", file=out)
    else:
        print(f"secret key: {keypair.secret.hex()}", file=out)
    return 0


def cmd_publish(args: argparse.Namespace, out: IO[str]) -> int:
    keypair = _load_keypair(args)
    relays = _relay_client(args)
    existing = relays.resolve(keypair.public_key)
    records: list[Record] = []
    if args.keep and existing is not None:
        records.extend(existing.records())
    try:
        for name, rtype, value in args.record or []:
            if rtype.upper() == "TXT" and not value.startswith('"'):
                records.append(Record.txt(name, value, args.ttl))
            else:
                records.append(Record(name, rtype, value, args.ttl))
        if args.homeserver:
            hs = _key(args.homeserver)
            records = [r for r in records if not r.name.startswith("_pubky")]
            records.append(Record("_pubky", "HTTPS", f"0 {hs.z32()}.", 3600))
    except PubkyError as exc:
        raise CliError(f"invalid record: {exc}") from exc
    if not records:
        raise CliError("nothing to publish: give --record NAME TYPE VALUE or --homeserver KEY")
    timestamp = None
    if existing is not None:
        timestamp = max(now_us(), existing.timestamp + 1)
    packet = SignedPacket.sign(keypair, records, timestamp=timestamp)
    cas = existing.timestamp if existing is not None else None
    report = relays.publish(packet, cas=cas)
    print(f"public key: {keypair.public_key.z32()}", file=out)
    print(f"timestamp:  {packet.timestamp} ({_iso(packet.timestamp)})", file=out)
    for result in report.results:
        state = "ok  " if result.ok else "FAIL"
        status = result.status if result.status is not None else "-"
        detail = f"  {result.error}" if result.error else ""
        print(f"{state} {status} {result.latency_ms:8.1f} ms  {result.relay_url}{detail}", file=out)
    report.raise_for_failure()
    return 0


def cmd_resolve(args: argparse.Namespace, out: IO[str]) -> int:
    key = _key(args.key)
    report = _relay_client(args).resolve_report(key)
    packet = report.packet
    if args.json:
        doc: dict[str, object] = {
            "public_key": key.z32(),
            "found": packet is not None,
            "relays": [
                {"url": r.relay_url, "ok": r.ok, "status": r.status, "error": r.error}
                for r in report.results
            ],
        }
        if packet is not None:
            doc["timestamp"] = packet.timestamp
            doc["records"] = [
                {"name": r.name, "type": r.rtype, "value": r.value, "ttl": r.ttl}
                for r in packet.records()
            ]
        print(json.dumps(doc, indent=2), file=out)
        return 0 if packet is not None else 1
    if packet is None:
        failed = [r for r in report.results if not r.ok]
        reason = "; ".join(f"{r.relay_url}: {r.error}" for r in failed) if failed else ""
        raise CliError(f"no packet found for {key.z32()}" + (f" ({reason})" if reason else ""))
    print(f"public key: {key.z32()}", file=out)
    print(f"timestamp:  {packet.timestamp} ({_iso(packet.timestamp)})", file=out)
    for record in packet.records():
        print(f"{record.name}\t{record.ttl}\tIN\t{record.rtype}\t{record.value}", file=out)
    return 0


def cmd_signup(args: argparse.Namespace, out: IO[str]) -> int:
    keypair = _load_keypair(args)
    client = _hs_client(args)
    session = client.signup(keypair, _key(args.homeserver), signup_token=args.token)
    print(f"signed up {session.public_key.z32()} on {_key(args.homeserver).z32()}", file=out)
    print(f"capabilities: {session.capabilities}", file=out)
    return 0


def cmd_put(args: argparse.Namespace, out: IO[str]) -> int:
    url = _url(args.url)
    keypair = _load_keypair(args)
    if keypair.public_key != url.public_key:
        raise CliError("the secret key does not belong to the URL's user")
    if args.data is not None:
        data = args.data.encode("utf-8")
    elif args.file == "-":
        data = sys.stdin.buffer.read()
    elif args.file:
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    else:
        raise CliError("give --data TEXT or --file PATH ('-' for stdin)")
    client = _hs_client(args)
    try:
        client.signin(keypair, republish_if_stale=False)
    except ResolutionError as exc:
        raise CliError(f"{exc} (is the user signed up? try `python -m pubky signup`)") from exc
    client.put(url, data, content_type=args.content_type)
    print(f"stored {len(data)} bytes at {url}", file=out)
    return 0


def cmd_get(args: argparse.Namespace, out: IO[str]) -> int:
    result = _hs_client(args).get(_url(args.url))
    if args.out:
        Path(args.out).write_bytes(result.content)
        return 0
    stream = getattr(out, "buffer", None)
    if stream is not None:
        stream.write(result.content)
        stream.flush()
    else:
        out.write(result.content.decode("utf-8", "replace"))
    return 0


def cmd_ls(args: argparse.Namespace, out: IO[str]) -> int:
    url = _url(args.url)
    if not url.is_directory:
        url = PubkyUrl(url.public_key, url.path + "/")
    entries = _hs_client(args).list(
        url, cursor=args.cursor, limit=args.limit, reverse=args.reverse, shallow=args.shallow
    )
    for entry in entries:
        print(entry, file=out)
    return 0


def cmd_events(args: argparse.Namespace, out: IO[str]) -> int:
    page = _hs_client(args).events(_key(args.homeserver), args.cursor, args.limit)
    for event in page.events:
        print(f"{event.kind} {event.url}", file=out)
    if page.cursor is not None:
        print(f"cursor: {page.cursor}", file=out)
    return 0


def cmd_approve(args: argparse.Namespace, out: IO[str]) -> int:
    # Loaded by the one command that needs it: the other commands start without the
    # pubkyauth token and HTTP-relay code.
    from pubky import pubkyauth

    try:
        request = pubkyauth.AuthRequest.parse(args.url)
    except PubkyError as exc:
        raise CliError(str(exc)) from exc
    keypair = _load_keypair(args)
    caps = request.capabilities or "(none: authentication only)"
    print(f"approving as {keypair.public_key.z32()} via {request.relay}", file=out)
    print(f"capabilities: {caps}", file=out)
    out.flush()
    pubkyauth.approve(keypair, request, timeout=args.timeout)
    print("approved: the app received the signed token", file=out)
    return 0


def cmd_testnet(args: argparse.Namespace, out: IO[str]) -> int:
    # The testnet's servers load only for this command, so `keygen`, `resolve` and the rest
    # start fast and need nothing a production install leaves out.
    from pubky.testnet import Testnet, serve_forever

    try:
        testnet = Testnet(
            None if args.ephemeral_data else args.data_dir,
            host=args.host,
            relay_ports=tuple(args.relay_port or [15411]),
            homeserver_port=args.homeserver_port,
            http_relay_port=args.http_relay_port,
            admin_port=args.admin_port,
            signup_mode=args.signup_mode,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    serve_forever(testnet, out=out)
    return 0


# --- parser --------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--relay",
        action="append",
        metavar="URL",
        help=f"PKARR relay (repeatable; default ${RELAYS_ENV} or {DEFAULT_RELAY})",
    )
    common.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    common.add_argument(
        "--testnet-host",
        default="localhost",
        help="domain reached over plain HTTP with the key65280 port (default: localhost)",
    )
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument(
        "--secret-file", metavar="PATH", help=f"secret key file (or set ${SECRET_ENV})"
    )

    parser = argparse.ArgumentParser(
        prog="python -m pubky", description="Pubky / PKARR command line tool."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="generate a keypair")
    p.add_argument("--out", metavar="PATH", help="write the secret (hex) to PATH, mode 0600")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("publish", parents=[common, secret], help="sign and publish records")
    p.add_argument(
        "--record",
        nargs=3,
        action="append",
        metavar=("NAME", "TYPE", "VALUE"),
        help="record to publish, e.g. --record @ A 127.0.0.1 (repeatable)",
    )
    p.add_argument("--ttl", type=_positive_int, default=300, help="TTL of --record entries")
    p.add_argument("--homeserver", metavar="KEY", help="also publish _pubky → KEY")
    p.add_argument("--keep", action="store_true", help="keep the records already published")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("resolve", parents=[common], help="resolve a key's packet")
    p.add_argument("key")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_resolve)

    p = sub.add_parser("signup", parents=[common, secret], help="create a homeserver account")
    p.add_argument("homeserver", metavar="HOMESERVER_KEY")
    p.add_argument("--token", help="signup token (XXXX-XXXX-XXXX)")
    p.set_defaults(func=cmd_signup)

    p = sub.add_parser("put", parents=[common, secret], help="write a file")
    p.add_argument("url", help="pubky://<key>/pub/…")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", help="content as text")
    source.add_argument("--file", help="content from a file ('-' = stdin)")
    p.add_argument("--content-type")
    p.set_defaults(func=cmd_put)

    p = sub.add_parser("get", parents=[common], help="read a file")
    p.add_argument("url")
    p.add_argument("--out", metavar="PATH")
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("ls", parents=[common], help="list a directory")
    p.add_argument("url")
    p.add_argument("--cursor")
    p.add_argument("--limit", type=_positive_int)
    p.add_argument("--reverse", action="store_true")
    p.add_argument("--shallow", action="store_true")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("events", parents=[common], help="read the homeserver change feed")
    p.add_argument("homeserver", metavar="HOMESERVER_KEY")
    p.add_argument("--cursor")
    p.add_argument("--limit", type=_positive_int)
    p.set_defaults(func=cmd_events)

    p = sub.add_parser(
        "approve",
        parents=[secret],
        help="approve a pubkyauth:// request (sign in, or prove you hold a key)",
        description="Sign an AuthToken for a pubkyauth:// deep link with your key and hand it "
        "to the waiting app through the link's HTTP relay.",
    )
    p.add_argument("url", help="the pubkyauth://signin?caps=…&relay=…&secret=… link")
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the app to take the approval (default 60)",
    )
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("testnet", help="run a local testnet in the foreground")
    p.add_argument("--data-dir", default=".data/testnet")
    p.add_argument("--ephemeral-data", action="store_true", help="use a temporary data dir")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p.add_argument("--relay-port", type=_port, action="append", help="repeatable; 0 = any")
    p.add_argument("--homeserver-port", type=_port, default=6286)
    p.add_argument("--http-relay-port", type=_port, default=15412)
    p.add_argument("--admin-port", type=_port, default=6288)
    p.add_argument("--signup-mode", choices=("open", "token_required"), default="open")
    p.set_defaults(func=cmd_testnet)
    return parser


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    stream = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace, IO[str]], int] = args.func
    try:
        return func(args, stream)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except PubkyError as exc:
        status = getattr(exc, "status", None)
        prefix = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
        print(f"error: {prefix}: {exc}", file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1
