"""Realtime benchmarks: this service beside the stock Channels deployment, same run, same box.

Every scenario starts its own Valkey, web processes (daphne or uvicorn) and client worker
processes on loopback, in a scratch database next to ``DATABASE_URL`` (created and dropped),
and prints medians over ``--runs``. Scenarios (issue: performance):

  fanout       one event to N subscribers over 2 web processes: messages delivered/s/process
  latency      commit -> socket on the other process at R events/s to N subscribers: p50/p99
  burst        E events to N subscribers: complete and in order, optionally with a Valkey
               restart in the middle (stock: what the default capacity drops)
  connections  C authenticated idle sockets on --webs processes (1): memory per socket,
               connects/s; --checkpoints opens them in stages (RSS against open sockets)
  notify       raw-SQL changes (outside Django) through the NOTIFY bridge, each routed only to
               the subscriber allowed to see it: changes delivered/s
  slow_reader  one socket that never reads while E events (default 20,000 of ~1 KB) reach a
               live reader: the web process's RSS growth, whether the stalled socket was
               closed (4408), and the RSS once it is gone (stock: the stock app on daphne)
  many-topics  T topics with one subscriber each over 2 web processes, R events/s spread over
               them: p50/p99, lost count, and the memory one idle topic costs a web process
  compression  permessage-deflate negotiated by uvicorn against none: bytes on the wire and
               server CPU per message for score events and 1-50 KB content updates
  layer        the channel layer alone over --shards Valkeys: P publishing processes as fast
               as they can, to --webs subscribers that each follow every topic: events/s
               carried and the Valkeys' CPU (run with --shards 1 and 3)

``bench/curves.py`` runs these at several points and draws the cost curves.

Usage: ``DATABASE_URL=… python bench/realtime_bench.py fanout --subscribers 1000``
(``--json FILE`` also writes the result there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _servers import Clients, Proc, cpu_seconds, cpu_split, rss_kib, start_valkey, start_web

OURS_APP = "pubkyproject.asgi:application"
STOCK_APP = "bench.stock_asgi:application"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


#: uvicorn's --ws for this service: the sans-I/O protocol that writes prepared frames.
OURS_WS_PROTOCOL = "realtime.ws_protocol:PreparedFrameProtocol"


class Bench:
    """Shared set-up: Valkey, the scratch database, a user and a long-lived token."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.valkey, self.redis_port = start_valkey()
        # --shards N: the channel layer over N Valkeys (CHANNEL_LAYER_SHARDS), the first of
        # them the one the cache and registry use (REDIS_URL).
        self.extra_shards: list[Proc] = []
        try:
            for _ in range(max(getattr(args, "shards", 1), 1) - 1):
                self.extra_shards.append(start_valkey()[0])
            self._set_up()
        except BaseException:
            for proc in [self.valkey, *self.extra_shards]:
                proc.stop()  # nothing else may outlive a failed set-up
            raise

    def _set_up(self) -> None:
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        os.environ["REDIS_URL"] = self.redis_url
        self.layer_urls = [self.redis_url] + [
            f"redis://127.0.0.1:{_port_of(p)}/0" for p in self.extra_shards
        ]
        if self.extra_shards:
            # Before Django starts: this process publishes to the same shards.
            os.environ["CHANNEL_LAYER_SHARDS"] = ",".join(self.layer_urls)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pubkyproject.settings.test")
        os.environ["LOG_LEVEL"] = "WARNING"
        from _django import scratch_database

        self._db = scratch_database("pubky_bench_rt")
        self.database_url = self._db.__enter__()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from families.models import User

        self.user = User.objects.create_user("bench", password="bench")
        from rest_framework_simplejwt.tokens import AccessToken

        token = AccessToken.for_user(self.user)
        token.set_exp(lifetime=__import__("datetime").timedelta(hours=6))
        self.token = str(token)
        self.processes: list[Proc] = []
        self._domain_ids: list[int] = []

    def domains(self, count: int) -> list[int]:
        """``count`` private domains (with Pubky domains) of a family the bench user owns."""
        if len(self._domain_ids) >= count:
            return self._domain_ids[:count]
        from domains.models import DomainRecord, PubkyDomain
        from families.services.families import family_create

        family = family_create(name=f"Bench {count}", owner=self.user)
        domains = DomainRecord.objects.bulk_create(
            DomainRecord(name=f"d{i}-{family.pk}.example", family=family) for i in range(count)
        )
        PubkyDomain.objects.bulk_create(
            PubkyDomain(
                name=f"p{d.pk}.example",
                family=family,
                domain=d,
                public_key=f"{d.pk:052d}",
                key_custody="family",
                status="active",
            )
            for d in domains
        )
        self._domain_ids = [d.pk for d in domains]
        return self._domain_ids

    def web_env(self, **extra: str) -> dict[str, str]:
        from django.conf import settings

        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CHANNEL_LAYER_SHARDS": ",".join(self.layer_urls) if self.extra_shards else "",
            "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.test",
            "SECRET_KEY": settings.SECRET_KEY,
            "WS_MAX_CONNECTIONS_PER_USER": "1000000",
            "WS_MAX_SUBSCRIPTIONS": "1000",
            # Every client connects from 127.0.0.1: lift the per-address admission limits.
            "WS_CONNECT_RATE_PER_ADDRESS": "1000000",
            "WS_CONNECT_BURST_PER_ADDRESS": "1000000",
            "WS_MAX_UNAUTHENTICATED_PER_ADDRESS": "1000000",
            "WS_MAX_UNAUTHENTICATED": "1000000",
            "LOG_LEVEL": "WARNING",
            # The repository first; a PYTHONPATH of the caller's after it (probes, profilers).
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH"))
                if p
            ),
        }
        env.update(extra)
        return env

    def webs(
        self,
        count: int,
        *,
        stock: bool,
        server: str,
        deflate: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> list[int]:
        env = self.web_env(CHANNEL_LAYER="redis") if stock else self.web_env()
        ports = []
        for i in range(count):
            proc, port = start_web(
                server,
                STOCK_APP if stock else OURS_APP,
                env,
                deflate=deflate,
                name=f"web{i}",
                extra_args=extra_args,
                ws_protocol="websockets-sansio" if stock else OURS_WS_PROTOCOL,
            )
            self.processes.append(proc)
            ports.append(port)
        return ports

    def stop_webs(self) -> None:
        for proc in self.processes:
            proc.stop()
        self.processes.clear()

    def close(self) -> None:
        self.stop_webs()
        self._db.__exit__(None, None, None)
        self.valkey.stop()
        for proc in self.extra_shards:
            proc.stop()


# --- publishing --------------------------------------------------------------------------


def publish_ours(
    count: int,
    *,
    rate: float | None = None,
    topics: list[str] | None = None,
    event_type: str = "pubky_relay_status",
    payload: Callable[[int], dict[str, Any]] | None = None,
    pad: int = 0,
) -> None:
    """Publish through the real path: outbox row in a transaction, sent on commit."""
    from django.db import transaction

    from realtime.events import emit

    names = topics or ["relays"]
    interval = 1.0 / rate if rate else 0.0
    next_at = time.perf_counter()
    for n in range(count):
        data = payload(n) if payload else {}
        with transaction.atomic():
            emit(
                topic=names[n % len(names)],
                type=event_type,
                payload={
                    "n": n,
                    **data,
                    "t": time.time(),
                    **({"pad": "x" * pad} if pad else {}),
                },
            )
        if interval:
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


def paced_batches(count: int, *, rate: float, every: float) -> Iterator[range]:
    """The event numbers ``0 .. count - 1`` in batches of those due at ``rate``, at most one
    batch every ``every`` seconds (a batch late to start is simply larger)."""
    started = time.perf_counter()
    sent = 0
    while sent < count:
        due = min(count, int((time.perf_counter() - started) * rate) + 1)
        if due > sent:
            yield range(sent, due)
            sent = due
        time.sleep(max(0.0, started + sent / rate - time.perf_counter(), every))


def publish_batched(count: int, *, rate: float, topics: list[str], every: float) -> None:
    """What a bulk writer does: every ``every`` seconds, the events due since the last batch in
    one transaction (``emit_many``: outbox rows, per-topic ``seq``, sent after commit)."""
    from django.db import transaction

    from realtime.events import emit_many, flush_bulk_sends

    for batch in paced_batches(count, rate=rate, every=every):
        now = time.time()
        with transaction.atomic():
            emit_many(
                (topics[n % len(topics)], "pubky_sovereignty_score", {"n": n, "t": now})
                for n in batch
            )
    flush_bulk_sends()


def publish_parallel(
    count: int, *, rate: float, topics: list[str], processes: int, batch_every: float = 0.0
) -> None:
    """``publish_ours`` (or, with ``batch_every``, ``publish_batched``) from ``processes``
    forked processes (each with its own database and Redis connections), each with its own
    share of the topics, so per-topic order holds and neither one connection's commits nor one
    interpreter's lock is the limit of the rate."""

    def publish(share: int, share_rate: float, share_topics: list[str]) -> None:
        if batch_every:
            publish_batched(share, rate=share_rate, topics=share_topics, every=batch_every)
        else:
            publish_ours(
                share, rate=share_rate, topics=share_topics, event_type="pubky_sovereignty_score"
            )

    if processes <= 1:
        publish(count, rate, topics)
        return
    import multiprocessing

    from django.db import connections

    connections.close_all()  # a child must open its own, not share the parent's sockets

    def work(index: int) -> None:
        from realtime import transport

        transport._local.__dict__.clear()  # Redis clients the parent's thread may have opened
        share = count // processes + (1 if index < count % processes else 0)
        publish(share, rate / processes, topics[index::processes])
        connections.close_all()

    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=work, args=(i,)) for i in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        raise RuntimeError(f"publisher processes failed: exit codes {failed}")


class StockPublisher:
    """What apps usually do: write in a transaction, then ``group_send`` to the stock
    RedisChannelLayer (default capacity 100), with the event built per send."""

    def __init__(self, redis_urls: list[str]) -> None:
        from channels_redis.core import RedisChannelLayer
        from django.conf import settings

        # The prefix the web processes were given (the test settings make one per run).
        layers: dict[str, dict[str, Any]] = settings.CHANNEL_LAYERS
        self.layer = RedisChannelLayer(
            hosts=[{"address": url, "socket_timeout": 15} for url in redis_urls],
            prefix=layers["default"]["CONFIG"]["prefix"],
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.next_id = 1

    def publish(
        self,
        count: int,
        *,
        rate: float | None = None,
        groups: list[str] | None = None,
        pad: int = 0,
        batch_every: float = 0.0,
    ) -> None:
        from django.db import transaction

        from domains.models import RelayStatus

        names = groups or ["relays"]
        relay, _ = RelayStatus.objects.get_or_create(url="http://127.0.0.1:1")
        if batch_every and rate:
            self._publish_batched(count, rate, names, relay.pk, batch_every)
            return
        interval = 1.0 / rate if rate else 0.0
        next_at = time.perf_counter()
        for n in range(count):
            stamp = time.time()
            with transaction.atomic():
                # The same kind of write as the service's publisher does (one row, committed).
                RelayStatus.objects.filter(pk=relay.pk).update(latency_ms=float(n))
            message = self._next_message(stamp, pad)
            asyncio.run_coroutine_threadsafe(
                self.layer.group_send(names[n % len(names)], message), self.loop
            ).result()
            if interval:
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)

    def _next_message(self, stamp: float, pad: int = 0) -> dict[str, Any]:
        """The next event, numbered in publishing order (the clients check that order)."""
        event_id, self.next_id = self.next_id, self.next_id + 1
        return {
            "type": "bench.event",
            "event_type": "pubky_relay_status",
            "event_id": event_id,
            "data": {"n": event_id, "t": stamp, **({"pad": "x" * pad} if pad else {})},
        }

    def _publish_batched(
        self, count: int, rate: float, names: list[str], relay_pk: int, every: float
    ) -> None:
        """Every ``every`` seconds one transaction for the events due, then a ``group_send``
        each (as ``publish_batched`` does for this service)."""
        from django.db import transaction

        from domains.models import RelayStatus

        async def send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
            for group, message in messages:
                await self.layer.group_send(group, message)

        for batch in paced_batches(count, rate=rate, every=every):
            stamp = time.time()
            with transaction.atomic():
                RelayStatus.objects.filter(pk=relay_pk).update(latency_ms=float(batch.stop))
            messages = [(names[n % len(names)], self._next_message(stamp)) for n in batch]
            asyncio.run_coroutine_threadsafe(send_all(messages), self.loop).result()


def wait_for(clients: Clients, expected: int, timeout: float) -> tuple[float, dict[str, Any]]:
    """Poll client reports until ``expected`` messages arrived; returns (seconds, report)."""
    started = time.perf_counter()
    report: dict[str, Any] = {}
    latencies: list[float] = []
    stalled_since = time.perf_counter()
    last_received = -1
    while time.perf_counter() - started < timeout:
        report = clients.report()
        latencies.extend(report["latencies"])
        if report["received"] >= expected:
            break
        if report["received"] != last_received:
            last_received, stalled_since = report["received"], time.perf_counter()
        elif time.perf_counter() - stalled_since > 5:
            break  # nothing more is coming (the stock layer dropped the rest)
        time.sleep(0.02)
    report["latencies"] = latencies
    return time.perf_counter() - started, report


# --- scenarios -------------------------------------------------------------------------------


def fanout(bench: Bench, *, stock: bool) -> dict[str, Any]:
    args = bench.args
    ports = bench.webs(args.webs, stock=stock, server=args.server, deflate=args.deflate)
    urls = [f"ws://127.0.0.1:{p}/ws" for p in ports]
    clients = Clients()
    kind = "stock" if stock else "ours"
    subscribe = {"group": "relays"} if stock else {"relays": True}
    ready = clients.start(
        urls=urls,
        token=bench.token,
        count=args.subscribers,
        processes=args.client_processes,
        subscribe=subscribe,
        kind=kind,
        batch=args.batch and not stock,
        deflate=args.deflate,
    )
    stock_pub = StockPublisher(bench.layer_urls) if stock else None
    rates, complete, cpu_per_message, sys_per_message = [], [], [], []
    total = 0
    web_pids = [p.pid for p in bench.processes]
    try:
        time.sleep(0.5)
        for _ in range(args.runs):
            expected = total + args.subscribers * args.events
            user0, sys0 = map(sum, zip(*(cpu_split(pid) for pid in web_pids), strict=True))
            t0 = time.perf_counter()
            if stock_pub:
                stock_pub.publish(args.events)
            else:
                publish_ours(args.events)
            _, report = wait_for(clients, expected, timeout=args.timeout)
            # From the first publish to the last delivery (client polling adds <= 20 ms).
            seconds = time.perf_counter() - t0
            got = report["received"] - total
            total = report["received"]
            user1, sys1 = map(sum, zip(*(cpu_split(pid) for pid in web_pids), strict=True))
            system = sys1 - sys0
            cpu = user1 - user0 + system
            rates.append(got / seconds / args.webs)
            complete.append(got / (args.subscribers * args.events))
            if got:  # with nothing delivered there is no cost per message to give
                cpu_per_message.append(cpu / got * 1e6)
                sys_per_message.append(system / got * 1e6)
    finally:
        clients.stop()
        bench.stop_webs()
    return {
        "ready": ready["ready"],
        "web_processes": args.webs,
        "subscribers_per_process": args.subscribers / args.webs,
        "per_process_per_s": statistics.median(rates),
        "delivered_fraction": statistics.median(complete),
        # Server CPU per delivered message: on a quiet core, 1e6 / this = messages/s per core.
        "server_cpu_us_per_message": _median_or_none(cpu_per_message),
        # Of which in the kernel (system calls, and on loopback the receiving side's TCP work).
        "server_system_cpu_us_per_message": _median_or_none(sys_per_message),
        "server_cpu_seconds_last_round": cpu,
    }


def _median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def latency(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """Commit -> socket latency at ``--rate`` events/s.

    ``--topology own``: every subscriber watches its own domain's score and events go round
    robin over the domains (each event to one authorised socket: the service's usual traffic).
    ``--topology shared``: every subscriber watches one topic, so each event goes to all of
    them (``rate x subscribers`` messages/s: a broadcast load test).
    """
    from realtime import topics

    args = bench.args
    ports = bench.webs(2, stock=stock, server=args.server, deflate=args.deflate)
    # The publisher commits in this process; every subscriber sits in another one.
    urls = [f"ws://127.0.0.1:{p}/ws" for p in ports]
    clients = Clients()
    subscribe_list: list[dict[str, Any]] | None = None
    names: list[str] | None = None
    per_event = args.subscribers
    if args.topology == "own":
        ids = bench.domains(args.subscribers)
        per_event = 1
        if stock:
            names = [f"score.{i}" for i in ids]
            subscribe_list = [{"group": n} for n in names]
        else:
            names = [topics.sovereignty_score(i) for i in ids]
            subscribe_list = [{"sovereigntyScoreDomainId": i} for i in ids]
    clients.start(
        urls=urls,
        token=bench.token,
        count=args.subscribers,
        processes=args.client_processes,
        subscribe={"group": "relays"} if stock else {"relays": True},
        subscribe_list=subscribe_list,
        kind="stock" if stock else "ours",
        batch=args.batch and not stock,
    )
    stock_pub = StockPublisher(bench.layer_urls) if stock else None
    p50s, p99s, losses, publish_rates = [], [], [], []
    total = 0
    try:
        time.sleep(0.5)
        clients.report()
        for _ in range(args.runs):
            count = int(args.rate * args.seconds)
            t0 = time.perf_counter()
            if stock_pub:
                stock_pub.publish(count, rate=args.rate, groups=names)
            else:
                publish_ours(count, rate=args.rate, topics=names)
            # Below --rate when the publisher (one thread, a commit per event) is the limit.
            publish_rates.append(count / (time.perf_counter() - t0))
            expected = total + per_event * count
            _, report = wait_for(clients, expected, timeout=args.timeout)
            losses.append(1 - (report["received"] - total) / (per_event * count))
            total = report["received"]
            samples = report["latencies"]
            p50s.append(percentile(samples, 0.50) * 1000)
            p99s.append(percentile(samples, 0.99) * 1000)
    finally:
        clients.stop()
        bench.stop_webs()
    return {
        "topology": args.topology,
        "rate": args.rate,
        "published_per_s": statistics.median(publish_rates),
        "p50_ms": statistics.median(p50s),
        "p99_ms": statistics.median(p99s),
        "lost_fraction": statistics.median(losses),
    }


def burst(bench: Bench, *, stock: bool) -> dict[str, Any]:
    args = bench.args
    ports = bench.webs(2, stock=stock, server=args.server)
    urls = [f"ws://127.0.0.1:{p}/ws" for p in ports]
    clients = Clients()
    clients.start(
        urls=urls,
        token=bench.token,
        count=args.subscribers,
        processes=args.client_processes,
        subscribe={"group": "relays"} if stock else {"relays": True},
        kind="stock" if stock else "ours",
        batch=not stock,
    )
    stock_pub = StockPublisher(bench.layer_urls) if stock else None
    try:
        time.sleep(0.5)
        expected = args.subscribers * args.events
        t0 = time.perf_counter()
        if stock_pub:
            stock_pub.publish(args.events)
        elif args.restart:
            publish_ours(args.events // 2)
            bench.valkey.stop()
            publish_ours(10)  # while Valkey is down: outbox only
            bench.valkey, _ = start_valkey(bench.redis_port)
            time.sleep(1.5)  # the pub/sub layer reconnects
            publish_ours(args.events - args.events // 2 - 10)
        else:
            publish_ours(args.events)
        seconds, report = wait_for(clients, expected, timeout=args.timeout)
        seconds = time.perf_counter() - t0
    finally:
        clients.stop()
        bench.stop_webs()
    return {
        "delivered": report["received"],
        "expected": expected,
        "complete": report["received"] == expected,
        "disordered": report["disordered"],
        "seconds": seconds,
    }


def connections(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """Idle authenticated sockets (each subscribed to one topic) over ``--webs`` processes.

    With ``--checkpoints 1000,5000,…`` the sockets are opened in stages up to each count and
    held; after each stage the web processes' RSS growth is read, so one run draws RSS against
    the number of open sockets. The top-level figures are those of the last stage.
    """
    args = bench.args
    ports = bench.webs(args.webs, stock=stock, server=args.server)
    webs = bench.processes[-args.webs :]
    stages = _checkpoints(args)
    time.sleep(1.0)
    before = [rss_kib(web.pid) for web in webs]
    clients = Clients()
    points: list[dict[str, Any]] = []
    opened = 0
    try:
        for target in stages:
            asked = target - opened
            cpu0 = sum(cpu_seconds(web.pid) for web in webs)
            t0 = time.perf_counter()
            ready = clients.start(
                urls=[f"ws://127.0.0.1:{port}/ws" for port in ports],
                token=bench.token,
                count=asked,
                processes=args.client_processes,
                subscribe={"group": "relays"} if stock else {"relays": True},
                kind="stock" if stock else "ours",
            )
            elapsed = time.perf_counter() - t0
            cpu = sum(cpu_seconds(web.pid) for web in webs) - cpu0
            opened += ready["ready"]
            time.sleep(2.0)
            growth = [rss_kib(web.pid) - b for web, b in zip(webs, before, strict=True)]
            points.append(
                {
                    "connected": opened,
                    "web_processes": args.webs,
                    "rss_mib": sum(growth) / 1024,
                    "kib_per_socket": sum(growth) / max(opened, 1),
                    "max_process_rss_growth_mib": max(growth) / 1024,
                    "connects_per_s": ready["ready"] / ready["connect_seconds"],
                    # Server CPU per connect (handshake, JWT, principal query, registry,
                    # subscribe): on a core of its own a process takes 1e3 / this per second.
                    "server_cpu_ms_per_connect": cpu / max(ready["ready"], 1) * 1e3,
                    "wall_seconds": elapsed,
                }
            )
            print(f"  {'stock' if stock else 'ours'}: {json.dumps(points[-1])}", flush=True)
            if ready["ready"] < asked:
                break  # a stage came up short: more would not be comparable
    finally:
        clients.stop()
        bench.stop_webs()
    return {**points[-1], "points": points} if points else {"error": "no socket connected"}


def _checkpoints(args: argparse.Namespace) -> list[int]:
    if not args.checkpoints:
        return [args.connections]
    try:
        stages = sorted({int(n) for n in args.checkpoints.split(",")})
    except ValueError:
        raise SystemExit(
            f"--checkpoints: comma-separated counts, not {args.checkpoints!r}"
        ) from None
    if stages[0] <= 0:
        raise SystemExit("--checkpoints: counts must be positive")
    return stages


def notify(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """Raw-SQL changes made outside Django, through the triggers and ``pubky_listen``.

    Every subscriber watches its own (private) Pubky domain; an outside writer updates the
    domains round robin at ``--rate`` changes/s. Each change must reach exactly the one socket
    allowed to see it. There is no stock Channels equivalent (it has no database bridge): the
    reference is Supabase Realtime's Postgres-changes path, about 30 changes/s at 500
    subscribers with row-level authorization.
    """
    import psycopg

    from domains.models import PubkyDomain

    args = bench.args
    if stock:
        return {"skipped": "stock Channels has no database change bridge"}
    ids = bench.domains(args.subscribers)
    pubky_ids = list(
        PubkyDomain.objects.filter(domain_id__in=ids)
        .order_by("domain_id")
        .values_list("pk", flat=True)
    )
    ports = bench.webs(2, stock=False, server=args.server)
    listener = _start_listener(bench)
    clients = Clients()
    clients.start(
        urls=[f"ws://127.0.0.1:{p}/ws" for p in ports],
        token=bench.token,
        count=args.subscribers,
        processes=args.client_processes,
        subscribe={},
        subscribe_list=[{"pubkyDomainId": i} for i in pubky_ids],
    )
    count = int(args.rate * args.seconds)
    try:
        time.sleep(0.5)
        with psycopg.connect(bench.database_url, autocommit=True) as outside:
            interval = 1.0 / args.rate
            t0 = time.perf_counter()
            next_at = t0
            for n in range(count):
                outside.execute(
                    "UPDATE pubky_domains SET status = %s, updated_at = now() WHERE id = %s",
                    ["active" if n % 2 else "error", pubky_ids[n % len(pubky_ids)]],
                )
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            write_seconds = time.perf_counter() - t0
        _, report = wait_for(clients, count, timeout=args.timeout)
        seconds = time.perf_counter() - t0
    finally:
        clients.stop()
        listener.stop()
        bench.stop_webs()
    return {
        "changes": count,
        "delivered": report["received"],
        "write_rate_per_s": count / write_seconds,
        "delivered_per_s": report["received"] / seconds,
        "each_socket_got_only_its_own": report["min_per_socket"] >= count // args.subscribers,
        "disordered": report["disordered"],
    }


def _port_of(proc: Proc) -> int:
    """The port a Valkey started by ``start_valkey`` listens on (from its command line)."""
    args = list(proc.popen.args)
    return int(args[args.index("--port") + 1])


def _rss_total(bench: Bench) -> int:
    return sum(rss_kib(p.pid) for p in bench.processes)


def many_topics(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """``--topics`` topics with one subscriber each over 2 web processes; ``--rate`` events/s
    spread round robin over them for ``--seconds``: p50/p99 commit -> socket, lost count.

    Memory per idle topic: the web processes' RSS growth with every socket on a topic of its
    own, minus the growth with the same number of sockets all on one topic (fresh processes
    each time), divided by the number of topics. What is left is what a topic costs a process
    (hub and channel-layer state, the Redis subscription), not what a socket costs.

    This service publishes from ``--publishers`` processes (a commit per event each), the stock
    publisher from one; ``published_per_s`` shows the rate each reached.
    """
    from realtime import topics

    args = bench.args
    ids = bench.domains(args.topics)
    kind = "stock" if stock else "ours"
    if stock:
        names = [f"score.{i}" for i in ids]
        own: list[dict[str, Any]] = [{"group": n} for n in names]
        shared: dict[str, Any] = {"group": "relays"}
    else:
        names = [topics.sovereignty_score(i) for i in ids]
        own = [{"sovereigntyScoreDomainId": i} for i in ids]
        shared = {"relays": True}

    growth = {}
    for layout in ("shared", "own"):
        ports = bench.webs(2, stock=stock, server=args.server)
        time.sleep(1.0)
        before = _rss_total(bench)
        clients = Clients()
        ready = clients.start(
            urls=[f"ws://127.0.0.1:{p}/ws" for p in ports],
            token=bench.token,
            count=args.topics,
            processes=args.client_processes,
            subscribe=shared,
            subscribe_list=own if layout == "own" else None,
            kind=kind,
        )
        time.sleep(2.0)
        growth[layout] = _rss_total(bench) - before
        if layout == "shared":
            clients.stop()
            bench.stop_webs()
    stock_pub = StockPublisher(bench.layer_urls) if stock else None
    p50s, p99s, lost, publish_rates = [], [], [], []
    total = 0
    try:
        clients.report()
        for _ in range(args.runs):
            count = int(args.rate * args.seconds)
            t0 = time.perf_counter()

            if stock_pub:
                stock_pub.publish(
                    count,
                    rate=args.rate,
                    groups=names,
                    batch_every=args.publish_batch_ms / 1000,
                )
            else:
                publish_parallel(
                    count,
                    rate=args.rate,
                    topics=names,
                    processes=args.publishers,
                    batch_every=args.publish_batch_ms / 1000,
                )
            publish_rates.append(count / (time.perf_counter() - t0))
            _, report = wait_for(clients, total + count, timeout=args.timeout)

            lost.append(count - (report["received"] - total))
            total = report["received"]
            p50s.append(percentile(report["latencies"], 0.50) * 1000)
            p99s.append(percentile(report["latencies"], 0.99) * 1000)
    finally:
        clients.stop()
        bench.stop_webs()
    return {
        "topics": args.topics,
        "connected": ready["ready"],
        "rate": args.rate,
        "publishers": 1 if stock else args.publishers,
        "publish_batch_ms": args.publish_batch_ms,
        "published_per_s": statistics.median(publish_rates),
        "p50_ms": statistics.median(p50s),
        "p99_ms": statistics.median(p99s),
        "p99_ms_per_run": p99s,
        "lost": sum(lost),  # over all runs: the goal is none at all
        "lost_per_run": lost,
        "disordered": report["disordered"],
        "kib_per_idle_topic": (growth["own"] - growth["shared"]) / max(args.topics, 1),
        "kib_per_socket_one_topic": growth["shared"] / max(args.topics, 1),
    }


_WORDS = [
    "pubky",
    "domain",
    "family",
    "record",
    "relay",
    "packet",
    "homeserver",
    "guardian",
    "key",
    "score",
    "update",
    "content",
    "profile",
    "post",
    "comment",
    "image",
    "link",
    "title",
    "body",
    "name",
    "value",
    "status",
    "active",
    "public",
    "private",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "with",
    "on",
    "by",
    "from",
    "is",
    "are",
    "was",
    "this",
    "that",
    "it",
    "at",
    "as",
]


def _content(size: int, seed: int) -> dict[str, Any]:
    """A content update of about ``size`` bytes: a JSON document of text-like fields, as
    compressible as ordinary posts and profiles (neither random bytes nor one repeated word)."""
    import random

    rng = random.Random(seed)
    posts: list[dict[str, Any]] = []
    length = 0
    while length < size:
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 40)))
        post = {"id": f"{rng.getrandbits(64):016x}", "title": text[:40], "body": text}
        posts.append(post)
        length += len(json.dumps(post))
    return {
        "url": f"pubky://{seed:052d}/pub/app/feed.json",
        "contentType": "application/json",
        "content": json.dumps({"posts": posts}),
    }


def _score(n: int) -> dict[str, Any]:
    return {
        "domainId": 7,
        "scoreId": n,
        "sovereignty_score": 40 + n % 60,
        "components": {
            "provider_independence": 14,
            "key_ownership": 10,
            "censorship_resistance": n % 20,
            "privacy": 6,
            "portability": 20,
        },
        "reason": "relay_status",
        "calculatedAt": "2026-11-25T14:01:12.095331+00:00",
    }


COMPRESSION_MIX: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "score": ("pubky_sovereignty_score", _score),
    "content_1k": ("pubky_content_update", lambda n: _content(1_000, n)),
    "content_5k": ("pubky_content_update", lambda n: _content(5_000, n)),
    "content_20k": ("pubky_content_update", lambda n: _content(20_000, n)),
    "content_50k": ("pubky_content_update", lambda n: _content(50_000, n)),
}


def compression(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """permessage-deflate negotiated by uvicorn (and the client) against no compression, one
    web process, ``--subscribers`` sockets on one topic, ``--events`` of each kind: bytes the
    clients receive from the network per delivered message, and server CPU per message."""
    if stock:
        return {"skipped": "compares this service with and without compression"}
    args = bench.args
    result: dict[str, Any] = {}
    for deflate in (False, True):
        (port,) = bench.webs(1, stock=False, server="uvicorn", deflate=deflate)
        pid = bench.processes[-1].pid
        clients = Clients()
        clients.start(
            urls=[f"ws://127.0.0.1:{port}/ws"],
            token=bench.token,
            count=args.subscribers,
            processes=args.client_processes,
            subscribe={"relays": True},
            deflate=deflate,
        )
        rows: dict[str, Any] = {}
        try:
            time.sleep(0.5)
            base = clients.report()
            total, wire = base["received"], base["wire_bytes"]
            for name, (event_type, payload) in COMPRESSION_MIX.items():
                frame_bytes = len(json.dumps(payload(0)))
                byte_runs, cpu_runs = [], []
                for _ in range(args.runs):
                    cpu0 = cpu_seconds(pid)
                    publish_ours(args.events, event_type=event_type, payload=payload)
                    expected = total + args.subscribers * args.events
                    _, report = wait_for(clients, expected, timeout=args.timeout)
                    got = report["received"] - total
                    byte_runs.append((report["wire_bytes"] - wire) / max(got, 1))
                    cpu_runs.append((cpu_seconds(pid) - cpu0) / max(got, 1) * 1e6)
                    total, wire = report["received"], report["wire_bytes"]
                rows[name] = {
                    "payload_bytes": frame_bytes,
                    "wire_bytes_per_message": statistics.median(byte_runs),
                    "server_cpu_us_per_message": statistics.median(cpu_runs),
                }
        finally:
            clients.stop()
            bench.stop_webs()
        result["deflate" if deflate else "plain"] = rows
    return result


def _start_listener(bench: Bench) -> Proc:
    import subprocess

    from _servers import LOG_DIR, REPO

    log = (LOG_DIR / "pubky_listen.log").open("ab")
    popen = subprocess.Popen(
        [sys.executable, "manage.py", "pubky_listen", "--poll", "0.5"],
        cwd=REPO,
        env=bench.web_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    time.sleep(1.5)
    return Proc(popen, "pubky_listen")


def _never_reading_socket(port: int, token: str, subscribe: str) -> Any:
    """A signed-in, subscribed WebSocket that then never reads (a small receive buffer, so the
    kernel does not absorb what the server should hold back)."""
    import base64
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    time.sleep(0.5)
    sock.recv(65536)  # the handshake and the `authenticated` frame
    payload = subscribe.encode()
    mask = os.urandom(4)
    sock.sendall(
        bytes([0x81, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )
    time.sleep(0.5)
    sock.recv(65536)  # `subscribed`
    return sock


def _closed_with(sock: Any) -> int | None:
    """Read what the server kept sending until its close frame: the close code (None if the
    socket is still open after 10 s of quiet)."""
    import struct

    buffer = b""
    sock.settimeout(10)
    while True:
        while len(buffer) >= 2:
            length, offset = buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, offset = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < offset + length:
                break
            if buffer[0] & 0x0F == 0x8:
                return int(struct.unpack("!H", buffer[offset : offset + 2])[0])
            buffer = buffer[offset + length :]
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            return None
        except OSError:  # reset: dropped without a close frame
            return 1006
        if not chunk:
            return 1006
        buffer += chunk


def slow_reader(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """RSS of one web process while a socket never reads (issue: bounded memory per socket)."""
    args = bench.args
    server = "daphne" if stock else args.server
    # No keepalive pings: a socket that never reads never answers them either, and the server
    # would close it (1011) before the flood shows what its buffers do.
    no_pings = (
        ("--ping-interval", "100000", "--ping-timeout", "100000")
        if server == "daphne"
        else ("--ws-ping-interval", "0")
    )
    (port,) = bench.webs(1, stock=stock, server=server, extra_args=no_pings)
    web = bench.processes[-1]
    events = args.events if args.events != 50 else 20_000
    clients = Clients()
    subscribe_live = {"group": "relays"} if stock else {"relays": True}
    clients.start(
        urls=[f"ws://127.0.0.1:{port}/ws"],
        token=bench.token,
        count=1,
        processes=1,
        subscribe=subscribe_live,
        kind="stock" if stock else "ours",
    )
    stock_pub = StockPublisher(bench.layer_urls) if stock else None

    def publish(count: int) -> None:
        if stock_pub:
            stock_pub.publish(count, pad=1000)
            return
        from django.db import transaction

        from realtime.events import emit_many

        pad = "x" * 1000
        for start in range(0, count, 2000):  # commits of 2,000 events, sent on commit
            with transaction.atomic():
                emit_many(
                    ("relays", "pubky_relay_status", {"n": n, "t": time.time(), "pad": pad})
                    for n in range(start, min(count, start + 2000))
                )

    try:
        # Warm up with the same flood and no stalled socket: what stays after it (caches, the
        # allocator's high-water mark for bursts) is not the stalled socket's doing.
        publish(events)
        wait_for(clients, events, timeout=args.timeout)
        time.sleep(1.0)
        before = rss_kib(web.pid)
        subscribe = (
            '{"type":"subscribe","group":"relays"}'
            if stock
            else '{"type":"subscribe","data":{"relays":true}}'
        )
        stalled = _never_reading_socket(port, bench.token, subscribe)
        publish(events)
        _, report = wait_for(clients, 2 * events, timeout=args.timeout)
        time.sleep(1.0)
        during = rss_kib(web.pid)
        code = _closed_with(stalled)
        stalled.close()
        time.sleep(2.0)
        after = rss_kib(web.pid)
    finally:
        clients.stop()
        bench.stop_webs()
    return {
        "server": server,
        "events": events,
        "live_reader_received": report["received"] - events,
        "rss_growth_mib": round((during - before) / 1024, 1),
        "stalled_socket_close_code": code,
        "rss_growth_after_close_mib": round((after - before) / 1024, 1),
    }


def layer(bench: Bench, *, stock: bool) -> dict[str, Any]:
    """The channel layer alone over ``--shards`` Valkeys: ``--publishers`` processes publish
    score events for ``--topics`` topics as fast as they can for ``--seconds``, to ``--webs``
    subscribers that each follow every topic (what that many web processes' hubs are to
    Valkey; ``bench/_layer.py``). Events/s carried, the Valkeys' CPU, lost count.

    This service publishes with ``transport.broadcast_sync`` (one script call per shard, batches
    of ``--layer-batch`` events, as ``emit_many`` sends them); stock with its ``group_send``,
    ``--layer-inflight`` at a time per process. Run with ``--shards 1`` and ``--shards 3`` to
    see throughput against the number of shards (``curves.py --curves shards`` does).
    """
    import _layer
    from channels_redis.utils import _consistent_hash
    from django.conf import settings

    from realtime import transport
    from realtime.wire import WireEvent, dumps, frame_from_row

    args = bench.args
    valkeys = [bench.valkey, *bench.extra_shards]  # in the order of bench.layer_urls
    ports = [_port_of(p) for p in valkeys]
    processes = args.webs
    payload: dict[str, Any] = {
        "domain_id": 0,
        "score": 87,
        "breakdown": {"keys": 30, "records": 25, "relays": 20, "guardians": 12},
        "computed_at": "2026-11-26T04:00:00.000Z",
    }
    if stock:
        from channels_redis.core import RedisChannelLayer

        layers: dict[str, dict[str, Any]] = settings.CHANNEL_LAYERS
        prefix = layers["default"]["CONFIG"]["prefix"] + "layerbench"

        def make_layer() -> Any:
            return RedisChannelLayer(
                hosts=[{"address": url, "socket_timeout": 15} for url in bench.layer_urls],
                prefix=prefix,
            )

        groups = [f"lb.{i}" for i in range(args.topics)]
        setup = make_layer()

        async def join_all() -> None:
            for w in range(processes):
                for i, group in enumerate(groups):
                    await setup.group_add(group, f"specific.lb{w}!t{i}")
            await setup.close_pools()

        asyncio.run(join_all())
        targets: list[tuple[int, Any]] = [
            (
                ports[setup.consistent_hash(f"specific.lb{w}!")],
                f"{prefix}specific.lb{w}!",
            )
            for w in range(processes)
        ]
        mode = "zset"
        message = {
            "type": "bench.event",
            "event_type": "pubky_sovereignty_score",
            "event_id": 1,
            "data": payload,
        }
    else:
        if len(transport._hosts()) != len(ports):
            raise RuntimeError("the layer's hosts are not the bench's shards")
        topic_names = [f"sovereignty_score.{i}" for i in range(args.topics)]
        by_shard: list[list[str]] = [[] for _ in ports]
        for name in topic_names:
            channel = transport.group_channel_name(name)
            by_shard[_consistent_hash(channel, len(ports)) if len(ports) > 1 else 0].append(channel)
        targets = [
            (ports[shard], channels)
            for _ in range(processes)
            for shard, channels in enumerate(by_shard)
            if channels
        ]
        mode = "pubsub"
        events = [
            WireEvent(
                event_id=n + 1,
                topic=name,
                seq=n + 1,
                type="pubky_sovereignty_score",
                frame=frame_from_row(
                    "pubky_sovereignty_score", n + 1, name, dumps({**payload, "domain_id": n})
                ),
            )
            for n, name in enumerate(topic_names)
        ]
    drainers = _layer.Drainers(mode, targets, args.client_processes)
    published, delivered, lost, cpu_us, valkey_cores = [], [], [], [], []
    publisher_cores: list[float] = []
    subscriber_cores: list[float] = []
    try:
        for _ in range(args.runs):
            before, _, subscriber_cpu = drainers.count()
            valkey_cpu = [cpu_seconds(p.pid) for p in valkeys]
            started = time.perf_counter()
            if stock:
                got = _layer.run_publishers(
                    lambda i, deadline: _layer.publish_stock(
                        make_layer,
                        groups[i :: args.publishers],
                        message,
                        args.layer_inflight,
                        deadline,
                    ),
                    args.publishers,
                    args.seconds,
                )
            else:
                got = _layer.run_publishers(
                    lambda i, deadline: _layer.publish_ours(
                        events[i :: args.publishers], args.layer_batch, deadline
                    ),
                    args.publishers,
                    args.seconds,
                )
            elapsed = time.perf_counter() - started
            used = [cpu_seconds(p.pid) - c for p, c in zip(valkeys, valkey_cpu, strict=True)]
            sent = sum(n for n, _ in got)
            publisher_cpu = sum(c for _, c in got)
            expected = before + sent * processes
            # Wait for the subscribers to catch up (or for nothing more to come).
            count, last, still = before, -1, time.perf_counter()
            subscriber_cpu_now = subscriber_cpu
            while count < expected and time.perf_counter() - still < 3:
                time.sleep(0.05)
                count, _, subscriber_cpu_now = drainers.count()
                if count != last:
                    last, still = count, time.perf_counter()
            published.append(sent / elapsed)
            delivered.append((count - before) / elapsed)
            lost.append(expected - count)
            cpu_us.append(publisher_cpu / max(sent, 1) * 1e6)
            valkey_cores.append([round(u / elapsed, 3) for u in used])
            publisher_cores.append(publisher_cpu / elapsed)
            subscriber_cores.append((subscriber_cpu_now - subscriber_cpu) / elapsed)
        _count, closed, _cpu = drainers.count()
    finally:
        drainers.stop()
    return {
        "shards": len(ports),
        "topics": args.topics,
        "subscribing_processes": processes,
        "publishers": args.publishers,
        "published_per_s": statistics.median(published),
        "published_per_s_per_run": published,
        "delivered_per_s": statistics.median(delivered),
        "publisher_cpu_us_per_event": statistics.median(cpu_us),
        "valkey_cores_per_run": valkey_cores,
        "valkey_cores": statistics.median(sum(run) for run in valkey_cores),
        # The busiest shard's share of one core: where the layer saturates when cores are free.
        "busiest_valkey_cores": statistics.median(max(run) for run in valkey_cores),
        "publisher_cores": statistics.median(publisher_cores),
        "subscriber_cores": statistics.median(subscriber_cores),
        # Events/s at which the busiest Valkey would use one whole core (its CPU per event
        # measured here): the layer's ceiling on a box with a free core per shard.
        "layer_ceiling_per_s": statistics.median(
            p / max(max(run), 1e-9) for p, run in zip(published, valkey_cores, strict=True)
        ),
        "lost": sum(lost),
        "lost_per_run": lost,
        # Subscribers Valkey cut off (past its pub/sub output-buffer limit): they lost the rest.
        "subscribers_cut_off": closed,
    }


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "slow_reader": slow_reader,
    "notify": notify,
    "fanout": fanout,
    "latency": latency,
    "burst": burst,
    "connections": connections,
    "many-topics": many_topics,
    "compression": compression,
    "layer": layer,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=list(SCENARIOS))
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="uvicorn")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--topology", choices=["own", "shared"], default="own")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--restart", action="store_true", help="burst: restart Valkey midway")
    parser.add_argument(
        "--webs",
        type=int,
        help="web processes (fanout: default 2; connections: default 1, sockets spread over"
        " them; layer: the subscribers standing for web processes, default 2)",
    )
    parser.add_argument(
        "--checkpoints",
        help="connections: open sockets in stages up to each of these counts (e.g. 1000,5000)",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=1,
        help="channel layer over this many Valkeys (CHANNEL_LAYER_SHARDS), both configurations",
    )
    parser.add_argument("--topics", type=int, default=10_000, help="many-topics, layer: topics")
    parser.add_argument(
        "--publishers",
        type=int,
        default=4,
        help="publishing processes (many-topics: this service's; layer: both)",
    )
    parser.add_argument(
        "--publish-batch-ms",
        type=float,
        default=0.0,
        help="many-topics: publish the events due every this many ms in one transaction"
        " (emit_many, as a bulk writer does) instead of a commit per event",
    )
    parser.add_argument(
        "--layer-batch", type=int, default=100, help="layer: events per broadcast (ours)"
    )
    parser.add_argument(
        "--layer-inflight",
        type=int,
        default=20,
        help="layer: group_send calls in flight per publishing process (stock)",
    )
    parser.add_argument("--json", help="also write the result (JSON) to this file")
    parser.add_argument(
        "--only", choices=["ours", "stock"], help="run one configuration instead of both"
    )
    args = parser.parse_args()
    if args.webs is None:
        args.webs = 1 if args.scenario == "connections" else 2
    if args.webs < 1:
        parser.error("--webs must be at least 1")
    bench = Bench(args)
    try:
        scenario = SCENARIOS[args.scenario]
        result = {}
        if args.only != "stock":
            result["ours"] = scenario(bench, stock=False)
        if args.only != "ours":
            result["stock"] = scenario(bench, stock=True)
    finally:
        bench.close()
    output = {"scenario": args.scenario, "server": args.server, **result}
    if args.json:
        Path(args.json).write_text(json.dumps(output, indent=2))
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
