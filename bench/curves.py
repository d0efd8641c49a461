"""Cost curves: how the realtime costs grow, for this service and stock Channels on the same axes.

One command runs the scenarios of ``bench/realtime_bench.py`` at several points and draws them:

  fanout       delivered messages/s and server CPU per message against subscribers per process
               (one web process; 100, 1k, 5k, 10k)
  latency      p50/p99 commit -> socket against the event rate (own-topic traffic, 1,000
               subscribers over 2 processes), from 50 events/s until each configuration
               saturates (messages lost, p99 over a second, or the publisher falls behind)
  rss          web processes' RSS against idle authenticated sockets (1k .. 40k over 4 web
               processes, opened in stages in one run: 40k is 10k per process)
  many-topics  10,000 topics with one subscriber each, 2,000 events/s over 2 processes (the
               events due every 10 ms committed together, as a bulk writer publishes them)
  compression  permessage-deflate against none: wire bytes and CPU per message by kind
  shards       the channel layer alone (no web process, no database) against the number of
               Valkey shards (1, 2, 3): events/s carried to 16 subscribing processes, each
               shard's CPU, and the rate at which the busiest shard would fill a core

Every point is run ``--runs`` times (default 3), each in fresh processes (its own Valkey,
scratch database, web and client processes), with the load average printed and recorded
before each run; the figures are the medians. Both configurations run in the same invocation
of ``realtime_bench.py``, so each figure has its stock counterpart from the same run.

Writes ``curves.json`` (every run, its load average, the medians), ``curves.csv`` (medians)
and PNG charts to ``--out`` (default ``docs/benchmarks/``); curves not run this time keep their
saved figures (``--curves latency`` replaces only the latency curve's). ``--quick`` is a smoke
run (small points, one run each) that writes to ``docs/benchmarks/smoke/`` and labels every chart as
such: it proves the instruments work, its figures mean nothing.

Usage (DATABASE_URL as for realtime_bench.py; matplotlib from requirements-dev.txt):

  python bench/curves.py                     # everything, medians of 3 (hours on 2 cores)
  python bench/curves.py --curves fanout,rss --runs 5
  python bench/curves.py --quick             # a few minutes
  python bench/curves.py --redraw [--quick]  # the charts again from the saved curves.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "realtime_bench.py"
CONFIGS = ("ours", "stock")
LABELS = {"ours": "this service", "stock": "stock Channels"}


@dataclass
class Point:
    """One x value of a curve: the ``realtime_bench.py`` arguments that measure it."""

    x: float
    args: list[str]


@dataclass
class Curve:
    name: str
    scenario: str
    x_label: str
    points: list[Point]
    # metric -> (axis label, how to read it from one configuration's result)
    metrics: dict[str, str]
    # after a point, a configuration for which this returns a reason stops (saturated)
    stop: Callable[[dict[str, Any], Point], str | None] | None = None
    configs: tuple[str, ...] = CONFIGS
    # One run measures every x (the scenario reports ``points`` in the order of ``stages``).
    stages: list[int] | None = None


@dataclass
class Results:
    started: str
    quick: bool
    runs: list[dict[str, Any]] = field(default_factory=list)
    medians: list[dict[str, Any]] = field(default_factory=list)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def _latency_saturated(result: dict[str, Any], point: Point) -> str | None:
    if result.get("lost_fraction", 0) > 0.01:
        return f"lost {result['lost_fraction']:.1%} at {point.x:g} events/s"
    if result.get("p99_ms", 0) > 1000:
        return f"p99 {result['p99_ms']:.0f} ms at {point.x:g} events/s"
    published = result.get("published_per_s")
    if published is not None and published < 0.75 * point.x:
        return f"the publisher reached only {published:.0f} of {point.x:g} events/s"
    return None


def _failed(result: dict[str, Any], point: Point) -> str | None:
    return "failed" if "error" in result else None


def curves(quick: bool) -> list[Curve]:
    if quick:
        fan = [100, 500]
        rates = [50, 200]
        sockets = [500, 1000]
        lat_subs, lat_seconds, topics, topic_rate, comp_subs, comp_events = 100, 2, 500, 200, 10, 5
        shard_counts, layer_topics, layer_seconds = [1, 2], 200, "2"
    else:
        fan = [100, 1_000, 5_000, 10_000]
        rates = [50, 100, 200, 500, 1_000, 2_000, 4_000, 8_000]
        sockets = [1_000, 5_000, 10_000, 20_000, 40_000]
        lat_subs, lat_seconds, topics, topic_rate, comp_subs, comp_events = (
            1_000,
            5,
            10_000,
            2_000,
            100,
            50,
        )
        shard_counts, layer_topics, layer_seconds = [1, 2, 3], 1_000, "5"

    def fan_args(n: int) -> list[str]:
        # About 200,000 deliveries per run (at least 5 events), so each point runs long enough.
        events = max(5, min(200, 200_000 // n)) if not quick else 5
        clients = "4" if n >= 5_000 else "2"
        return [
            "--webs",
            "1",
            "--subscribers",
            str(n),
            "--events",
            str(events),
            "--client-processes",
            clients,
        ]

    return [
        Curve(
            "fanout",
            "fanout",
            "subscribers per process",
            [Point(n, fan_args(n)) for n in fan],
            {
                "per_process_per_s": "delivered messages/s per process",
                "server_cpu_us_per_message": "server CPU per message (µs)",
                "delivered_fraction": "fraction delivered",
            },
            stop=_failed,
        ),
        Curve(
            "latency",
            "latency",
            "events/s (each to its own subscriber)",
            [
                Point(
                    r,
                    [
                        "--topology",
                        "own",
                        "--subscribers",
                        str(lat_subs),
                        "--rate",
                        str(r),
                        "--seconds",
                        str(lat_seconds),
                    ],
                )
                for r in rates
            ],
            {
                "p50_ms": "p50 commit -> socket (ms)",
                "p99_ms": "p99 commit -> socket (ms)",
                "lost_fraction": "fraction lost",
                "published_per_s": "events published/s",
            },
            stop=lambda result, point: _failed(result, point) or _latency_saturated(result, point),
        ),
        Curve(
            "rss",
            "connections",
            "idle authenticated sockets over 4 web processes",
            [
                Point(
                    sockets[-1],
                    [
                        "--checkpoints",
                        ",".join(map(str, sockets)),
                        "--webs",
                        "4" if not quick else "2",
                        "--client-processes",
                        "4" if not quick else "2",
                    ],
                )
            ],
            {
                "rss_mib": "RSS growth of the web processes (MiB)",
                "kib_per_socket": "KiB per idle socket",
                "connects_per_s": "connects/s",
                "connected": "sockets connected",
            },
            stop=_failed,
            stages=sockets,
        ),
        Curve(
            "many-topics",
            "many-topics",
            "topics (one subscriber each)",
            [
                Point(
                    topics,
                    [
                        "--topics",
                        str(topics),
                        "--rate",
                        str(topic_rate),
                        "--seconds",
                        "5",
                        "--client-processes",
                        "4" if topics >= 5000 else "2",
                        # A commit per event from this box's publisher would take most of
                        # the two cores at 2,000/s: events go out as a bulk writer sends them.
                        "--publishers",
                        "1",
                        "--publish-batch-ms",
                        "10",
                    ],
                )
            ],
            {
                "p50_ms": "p50 (ms)",
                "p99_ms": "p99 (ms)",
                "lost": "events lost",
                "kib_per_idle_topic": "KiB per idle topic",
                "published_per_s": "events published/s",
            },
        ),
        Curve(
            "compression",
            "compression",
            "event kind",
            [Point(0, ["--subscribers", str(comp_subs), "--events", str(comp_events)])],
            {},  # flattened by _compression_rows
            configs=("ours",),
        ),
        Curve(
            "shards",
            "layer",
            "Valkey shards",
            [
                Point(
                    n,
                    [
                        "--shards",
                        str(n),
                        "--topics",
                        str(layer_topics),
                        "--seconds",
                        layer_seconds,
                        "--publishers",
                        "2",
                        "--webs",
                        "16",
                        "--layer-batch",
                        "1000",
                        "--client-processes",
                        "1",
                    ],
                )
                for n in shard_counts
            ],
            {
                "published_per_s": "events/s carried",
                "delivered_per_s": "messages/s delivered to the subscribers",
                "valkey_cores": "Valkey CPU, all shards (cores)",
                "busiest_valkey_cores": "the busiest shard's CPU (cores)",
                "layer_ceiling_per_s": "events/s at which the busiest shard would fill a core",
                "publisher_cpu_us_per_event": "publisher CPU per event (µs)",
                "lost": "messages lost",
            },
            stop=_failed,
        ),
    ]


def run_point(curve: Curve, point: Point, configs: tuple[str, ...], server: str) -> dict[str, Any]:
    """One run of one point in fresh processes; returns {config: result}."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    args = [sys.executable, str(BENCH), curve.scenario, "--runs", "1", "--server", server]
    args += [*point.args, "--json", str(out)]
    if len(configs) == 1:
        args += ["--only", configs[0]]
    started = time.perf_counter()
    try:
        proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0 or not out.stat().st_size:
            tail = (proc.stderr or proc.stdout)[-2000:]
            return {c: {"error": f"exit {proc.returncode}: {tail}"} for c in configs}
        data = json.loads(out.read_text())
    except subprocess.TimeoutExpired:
        return {c: {"error": "timed out after an hour"} for c in configs}
    finally:
        out.unlink(missing_ok=True)
    result = {c: data[c] for c in configs if c in data}
    for value in result.values():
        value["wall_seconds_of_run"] = time.perf_counter() - started
        if "kib_per_socket" in value and "connected" in value:
            value["rss_mib"] = value["kib_per_socket"] * value["connected"] / 1024
    return result


def median_of(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return statistics.median(numbers) if numbers else None


def _compression_rows(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{"plain.score.wire_bytes_per_message": …} flattened, for medians over runs."""
    flat: dict[str, dict[str, float]] = {}
    for mode in ("plain", "deflate"):
        for kind, row in result.get(mode, {}).items():
            for metric, value in row.items():
                flat.setdefault(kind, {})[f"{mode}.{metric}"] = value
    return flat


def measure(curve: Curve, runs: int, server: str, results: Results) -> None:
    active = list(curve.configs)
    for point in curve.points:
        if not active:
            print(f"  {curve.name}: every configuration stopped; skipping {point.x:g}")
            break
        per_config: dict[str, list[dict[str, Any]]] = {c: [] for c in active}
        for run in range(runs):
            load = load_average()
            print(
                f"[{datetime.now(UTC):%H:%M:%S}] {curve.name} x={point.x:g} run {run + 1}/{runs}"
                f" ({', '.join(active)}); load average before: "
                f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
                flush=True,
            )
            got = run_point(curve, point, tuple(active), server)
            for config in active:
                result = got.get(config, {"error": "no result"})
                per_config[config].append(result)
                for x, stage in _stages_of(curve, point, result):
                    results.runs.append(
                        {
                            "curve": curve.name,
                            "x": x,
                            "config": config,
                            "run": run + 1,
                            "at": datetime.now(UTC).isoformat(timespec="seconds"),
                            "load_average_before": load,
                            "result": stage,
                        }
                    )
                if "error" in result:
                    print(f"    {config}: {result['error'][-300:]}", flush=True)
        if curve.stages:
            for config in active:
                for x in curve.stages:
                    runs_at = [
                        r["result"]
                        for r in results.runs
                        if r["curve"] == curve.name and r["x"] == x and r["config"] == config
                    ]
                    _add_median(results, curve, x, config, runs_at)
            continue
        for config in list(active):
            if curve.name == "compression":
                _add_compression_medians(results, curve, point.x, config, per_config[config])
                continue
            row = _add_median(results, curve, point.x, config, per_config[config])
            reason = (
                curve.stop(row if row["runs_ok"] else {"error": "all runs failed"}, point)
                if curve.stop
                else None
            )
            if reason:
                print(f"    {config} stops here: {reason}", flush=True)
                active.remove(config)


def _stages_of(curve: Curve, point: Point, result: dict[str, Any]) -> list[tuple[float, Any]]:
    """(x, result) for each x one run measured: one, or each stage of a staged curve."""
    if not curve.stages or "error" in result:
        return [(point.x, result)]
    return list(zip(curve.stages, result.get("points", []), strict=False))


def _median_header(
    results: Results, curve: Curve, x: float, config: str, runs: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fields every median row starts with, and the runs that did not fail."""
    ok = [r for r in runs if "error" not in r]
    loads = [
        r["load_average_before"][0]
        for r in results.runs
        if r["curve"] == curve.name and r["x"] == x and r["config"] == config
    ]
    header = {
        "curve": curve.name,
        "x": x,
        "config": config,
        "runs_ok": len(ok),
        "runs": len(runs),
        "load_average_1m_before": loads,
    }
    return header, ok


def _add_compression_medians(
    results: Results, curve: Curve, x: float, config: str, runs: list[dict[str, Any]]
) -> None:
    """One median row per event kind (the compression scenario reports a table per run)."""
    header, ok = _median_header(results, curve, x, config, runs)
    kinds: dict[str, dict[str, list[float]]] = {}
    for r in ok:
        for kind, figures in _compression_rows(r).items():
            for metric, value in figures.items():
                kinds.setdefault(kind, {}).setdefault(metric, []).append(value)
    for kind, metrics in kinds.items():
        kind_row: dict[str, Any] = {**header, "kind": kind}
        kind_row.update({m: median_of(v) for m, v in metrics.items()})
        results.medians.append(kind_row)


def _add_median(
    results: Results, curve: Curve, x: float, config: str, runs: list[dict[str, Any]]
) -> dict[str, Any]:
    header, ok = _median_header(results, curve, x, config, runs)
    row: dict[str, Any] = dict(header)
    keys = {k for r in ok for k, v in r.items() if not isinstance(v, list | dict)}
    row.update({k: median_of([r.get(k) for r in ok]) for k in sorted(keys)})
    results.medians.append(row)
    median_view = {k: v for k, v in row.items() if k in curve.metrics}
    print(f"    {config} x={x:g}: {json.dumps(median_view)}", flush=True)
    return row


def merge_saved(results: Results, out: Path, replaced: set[str]) -> None:
    """Keep the saved figures of the curves this invocation did not run."""
    path = out / "curves.json"
    if not path.exists():
        return
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return
    if saved.get("quick") != results.quick:
        return
    results.runs[:0] = [r for r in saved.get("runs", []) if r.get("curve") not in replaced]
    results.medians[:0] = [r for r in saved.get("medians", []) if r.get("curve") not in replaced]


# --- output ------------------------------------------------------------------------------------


def write_data(results: Results, out: Path) -> None:
    (out / "curves.json").write_text(
        json.dumps(
            {
                "started": results.started,
                "quick": results.quick,
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "medians": results.medians,
                "runs": results.runs,
            },
            indent=2,
            default=str,
        )
    )
    keys: list[str] = []
    for row in results.medians:
        keys.extend(k for k in row if k not in keys)
    with (out / "curves.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        for row in results.medians:
            writer.writerow(
                {
                    k: " ".join(f"{v:.2f}" for v in row[k])
                    if isinstance(row.get(k), list)
                    else row.get(k)
                    for k in keys
                }
            )


# The latency chart puts each point at the rate the publisher reached, not the one asked for.
X_METRIC = {"latency": "published_per_s"}


def _series(
    results: Results, curve: str, config: str, metric: str
) -> tuple[list[float], list[float]]:
    rows = [
        r
        for r in results.medians
        if r["curve"] == curve and r["config"] == config and r.get(metric) is not None
    ]
    x_metric = X_METRIC.get(curve)
    xs = [(r.get(x_metric) or r["x"]) if x_metric else r["x"] for r in rows]
    pairs = sorted(zip(xs, (r[metric] for r in rows), strict=True))
    return [x for x, _ in pairs], [y for _, y in pairs]


def draw(results: Results, out: Path, quick: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def note_for(curve: str) -> str:
        loads = [r["load_average_before"][0] for r in results.runs if r["curve"] == curve]
        note = (
            f"load average (1 min) before the runs: {min(loads):.1f}-{max(loads):.1f}"
            if loads
            else ""
        )
        if quick:
            return (
                "SMOKE RUN (--quick, 1 run per point): proves the tool works, not a measurement. "
                + note
            )
        return f"medians of each point's runs; {note}"

    written: list[Path] = []

    def figure(
        name: str,
        title: str,
        panels: list[tuple[str, str, str, bool]],
        x_label: str,
        *,
        log_x: bool = True,
    ) -> None:
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
        for ax, (curve, metric, label, log_y) in zip(axes[0], panels, strict=True):
            for config in CONFIGS:
                xs, ys = _series(results, curve, config, metric)
                if xs:
                    ax.plot(xs, ys, marker="o", label=LABELS[config])
            if log_x:
                ax.set_xscale("log")
            else:
                ax.set_xticks(
                    sorted({x for c in CONFIGS for x in _series(results, curve, c, metric)[0]})
                )
                if not log_y:
                    ax.set_ylim(bottom=0)
            if log_y:
                ax.set_yscale("log")
            ax.set_xlabel(x_label)
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.suptitle(title)
        fig.text(
            0.5,
            0.01,
            note_for(panels[0][0]),
            ha="center",
            fontsize=8,
            color="firebrick" if quick else "gray",
        )
        fig.tight_layout(rect=(0, 0.04, 1, 0.95))
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    if any(r["curve"] == "fanout" for r in results.medians):
        figure(
            "fanout",
            "Fan-out: one event to every subscriber of one web process",
            [
                ("fanout", "per_process_per_s", "delivered messages/s per process", True),
                ("fanout", "server_cpu_us_per_message", "server CPU per message (µs)", True),
            ],
            "subscribers per process",
        )
    if any(r["curve"] == "latency" for r in results.medians):
        figure(
            "latency",
            "Commit -> socket latency against the event rate (each event to its own subscriber)",
            [
                ("latency", "p50_ms", "p50 (ms)", True),
                ("latency", "p99_ms", "p99 (ms)", True),
            ],
            "events/s published (each point at the rate the publisher reached)",
        )
    if any(r["curve"] == "rss" for r in results.medians):
        figure(
            "rss",
            "Memory against idle authenticated sockets (4 web processes, opened in stages)",
            [
                ("rss", "rss_mib", "RSS growth (MiB)", True),
                ("rss", "kib_per_socket", "KiB per socket", False),
            ],
            "idle sockets on the box",
        )
    if any(r["curve"] == "shards" for r in results.medians):
        figure(
            "shards",
            "The channel layer alone against Valkey shards (16 subscribing processes)",
            [
                ("shards", "published_per_s", "events/s carried (2 cores)", False),
                (
                    "shards",
                    "layer_ceiling_per_s",
                    "events/s when the busiest shard fills a core",
                    False,
                ),
                ("shards", "busiest_valkey_cores", "the busiest shard's CPU (cores)", False),
            ],
            "Valkey shards",
            log_x=False,
        )
    rows = [r for r in results.medians if r["curve"] == "compression" and "kind" in r]
    if rows:
        kinds = [r["kind"] for r in rows]
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        width = 0.38
        for ax, metric, label in (
            (axes[0], "wire_bytes_per_message", "bytes on the wire per message"),
            (axes[1], "server_cpu_us_per_message", "server CPU per message (µs)"),
        ):
            for offset, mode in ((-width / 2, "plain"), (width / 2, "deflate")):
                values = [r.get(f"{mode}.{metric}") or 0 for r in rows]
                ax.bar([i + offset for i in range(len(kinds))], values, width, label=mode)
            ax.set_xticks(range(len(kinds)), kinds)
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.grid(True, axis="y", which="both", alpha=0.3)
            ax.legend()
        fig.suptitle("permessage-deflate (uvicorn) against none, by event kind")
        fig.text(
            0.5,
            0.01,
            note_for("compression"),
            ha="center",
            fontsize=8,
            color="firebrick" if quick else "gray",
        )
        fig.tight_layout(rect=(0, 0.04, 1, 0.95))
        path = out / "compression.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small points, 1 run")
    parser.add_argument("--runs", type=int, help="runs per point (default 3; --quick: 1)")
    parser.add_argument("--curves", help="comma-separated subset of the curves")
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument(
        "--redraw", action="store_true", help="only draw the charts again from curves.json"
    )
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    if runs < 3 and not args.quick:
        parser.error("figures are medians of at least 3 runs (use --quick for a smoke run)")
    out = args.out or REPO / "docs" / "benchmarks" / ("smoke" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    if args.redraw:
        saved = json.loads((out / "curves.json").read_text())
        results = Results(saved["started"], saved["quick"], saved["runs"], saved["medians"])
        charts = draw(results, out, results.quick)
        print("wrote", *map(str, charts), sep="\n  ")
        return
    selected = curves(args.quick)
    if args.curves:
        wanted = set(args.curves.split(","))
        unknown = wanted - {c.name for c in selected}
        if unknown:
            parser.error(f"unknown curve(s): {', '.join(sorted(unknown))}")
        selected = [c for c in selected if c.name in wanted]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error("matplotlib is missing: install requirements-dev.txt")
    results = Results(started=datetime.now(UTC).isoformat(timespec="seconds"), quick=args.quick)
    try:
        for curve in selected:
            measure(curve, runs, args.server, results)
    finally:
        # An interrupted invocation replaces only the curves it has medians for; the runs of
        # a curve it did not get that far with are not written over the saved ones.
        finished = {r["curve"] for r in results.medians}
        results.runs[:] = [r for r in results.runs if r["curve"] in finished]
        merge_saved(results, out, finished)
        write_data(results, out)
        charts = draw(results, out, args.quick)
        print(f"wrote {out / 'curves.json'}, {out / 'curves.csv'}", *map(str, charts), sep="\n  ")


if __name__ == "__main__":
    main()
