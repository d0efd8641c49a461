"""PKARR SignedPacket throughput on one core: sign+encode, and verify (relay payload → packet).

Run:  python bench/pkarr.py [--runs 7] [--n 2000]

Prints the median of several timed runs (time.perf_counter) per operation, after pinning the
process to a single CPU. No assertions: the figures are for humans and the README.
Targets: ≥ 5,000 sign+encode/s and ≥ 10,000 verify/s per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket

HOMESERVER = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"

#: A realistic user packet: the `_pubky` pointer plus a few domain records.
RECORDS = [
    Record("_pubky", "HTTPS", f"0 {HOMESERVER}.", 3600),
    Record("@", "A", "203.0.113.7", 3600),
    Record("@", "AAAA", "2001:db8::7", 3600),
    Record("www", "CNAME", "example.com.", 3600),
    Record(
        "_dnslink",
        "TXT",
        '"dnslink=/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"',
    ),
]


def pin_to_one_cpu() -> str:
    """Pin to the first allowed CPU so 'per core' means one core (Linux only)."""
    if hasattr(os, "sched_getaffinity") and hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def median_rate(operation: Callable[[int], None], n: int, runs: int) -> tuple[float, float]:
    """Median ops/s over ``runs`` runs of ``n`` operations: wall clock and CPU time.

    Wall clock (``perf_counter``) is the headline figure; the CPU-time rate
    (``process_time``) shows what the core can do when other processes compete for it.
    """
    wall_rates = []
    cpu_rates = []
    operation(min(n, 200))  # warm caches and imports
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        operation(n)
        wall_rates.append(n / (time.perf_counter() - wall))
        cpu_rates.append(n / max(time.process_time() - cpu, 1e-9))
    return statistics.median(wall_rates), statistics.median(cpu_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()

    pinning = pin_to_one_cpu()
    keypair = Keypair.from_secret(bytes(range(32)))
    public_key = keypair.public_key
    sample = SignedPacket.sign(keypair, RECORDS)
    payload = sample.to_relay_payload()

    # Many distinct signers, to show the cost of a first-seen key (uncached point check).
    signers = [Keypair.random() for _ in range(args.n)]
    foreign = [
        (k.public_key.raw, SignedPacket.sign(k, RECORDS).to_relay_payload()) for k in signers
    ]

    def sign(n: int) -> None:
        for _ in range(n):
            SignedPacket.sign(keypair, RECORDS).to_relay_payload()

    def verify(n: int) -> None:
        for _ in range(n):
            SignedPacket.from_relay_payload(public_key, payload)

    def verify_and_read(n: int) -> None:
        for _ in range(n):
            SignedPacket.from_relay_payload(public_key, payload).records()

    def verify_new_keys(n: int) -> None:
        from pubky.keys import _is_valid_point_cached

        _is_valid_point_cached.cache_clear()
        for raw, body in foreign[:n]:
            SignedPacket.from_relay_payload(PublicKey.from_bytes(raw), body)

    print(
        f"pubky PKARR bench — Python {platform.python_version()}, {platform.machine()}, {pinning}"
    )
    print(
        f"packet: {len(RECORDS)} records, DNS {len(sample.dns_packet)} bytes, "
        f"relay payload {len(payload)} bytes; median of {args.runs} runs x {args.n} ops"
    )
    rows = [
        ("sign + encode (SignedPacket.sign → relay payload)", sign, 5_000),
        ("verify (from_relay_payload: sig + DNS parse)", verify, 10_000),
        ("verify + records() (presentation values)", verify_and_read, None),
        ("verify, every key new (point check uncached)", verify_new_keys, None),
    ]
    for label, operation, target in rows:
        median, cpu = median_rate(operation, args.n, args.runs)
        verdict = "met" if median >= (target or 0) else "NOT met"
        goal = f"  goal >= {target:,}/s: {verdict}" if target else ""
        print(
            f"  {label:<52} {median:>8,.0f} /s wall ({1e6 / median:6.1f} us/op)"
            f" {cpu:>8,.0f} /s CPU{goal}"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 1:
        print(f"  note: load average {load:.1f}: other processes compete for the CPU")


if __name__ == "__main__":
    main()
