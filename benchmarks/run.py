"""Run the benchmarks side by side: the default install and with orjson, floors and peers.

Each scenario runs in its own process (so each has its own peak RSS), one
after another, against the same receivers: once as users install the
library (``--no-orjson``: ``import orjson`` fails) and once with orjson.
Floors (bare ``os.write`` append, pre-encoded JSON arrays over one urllib3
connection, pika's bare publish) and peers (mozdef-client 1.1,
python-logstash-async with its SQLite cache) run in the same run, so the
ratios compare like with like on a shared, noisy machine: compare ratios
within one run, not absolute numbers between runs.

    python benchmarks/run.py              # full run (installs mozdef-client 1.1 and
                                          # python-logstash-async into throwaway venvs)
    python benchmarks/run.py --repeat 3   # each cell the median of 3 runs
    python benchmarks/run.py --quick      # a smoke run with small counts (< 1 min)

The throwaway venvs live under build/, never in the project's environment.
MozDef's real loginput (../shared/peers/mozdef, or $MOZDEF_PEER_KIT) runs
from its kit venv ($MOZDEF_PEER_VENV, default ~/.cache/mozdef-peer-venv,
made by the kit's idempotent setup.sh) when the kit is there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import uuid
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "build"
KIT = Path(os.environ.get("MOZDEF_PEER_KIT", HERE.parent.parent / "shared" / "peers" / "mozdef"))
KIT_VENV = Path(os.environ.get("MOZDEF_PEER_VENV", Path.home() / ".cache" / "mozdef-peer-venv"))
BROKER = ("127.0.0.1", 5672)

Result = dict[str, object]


@dataclass(frozen=True)
class Row:
    label: str
    scenario: str
    target: str  # the URL kind it needs: http, down, amqp, loginput, none
    full: int
    quick: int
    both: bool = True  # run with and without orjson (floors need one)
    python: str = "project"  # or "legacy-1.1", "logstash"


ROWS = [
    Row("floor: os.write append (pre-encoded)", "append_floor", "none", 1_000_000, 20_000, False),
    Row(
        "floor: urllib3 JSON arrays of 5,000 (pre-encoded)",
        "urllib3_bulk_floor",
        "http",
        2_000_000,
        20_000,
        False,
    ),
    Row(
        "peer: mozdef-client 1.1, sync send()", "legacy_1_1", "http", 1_000, 0, False, "legacy-1.1"
    ),
    Row(
        "peer: python-logstash-async (SQLite cache)",
        "logstash_peer",
        "http",
        2_000,
        0,
        False,
        "logstash",
    ),
    Row("urllib3 pool, 1 event/request", "urllib3_single", "http", 1_000, 200, False),
    Row("legacy sync send()", "legacy_sync", "http", 1_000, 200),
    Row("legacy fire-and-forget send()", "legacy_fire_and_forget", "http", 50_000, 200),
    Row("background send()", "background", "http", 500_000, 5_000),
    Row("durable send()", "durable", "http", 50_000, 1_000),
    Row("background, receiver down (drop_oldest)", "background_down", "down", 1_000_000, 5_000),
    Row("durable, receiver down", "durable_down", "down", 50_000, 500),
    Row("floor: pika publish, no confirms", "pika_bare", "amqp", 30_000, 1_000, False),
    Row("AMQP background send(), confirms", "amqp_background", "amqp", 30_000, 1_000),
    Row(
        "MozDef loginput: pre-encoded arrays of 5,000",
        "mozdef_preencoded",
        "loginput",
        20_000,
        0,
        False,
    ),
    Row(
        "MozDef loginput: pre-encoded NDJSON of 5,000",
        "mozdef_preencoded_ndjson",
        "loginput",
        20_000,
        0,
        False,
    ),
    Row("MozDef loginput: background send() to /_bulk", "mozdef_bulk", "loginput", 20_000, 0),
]


class ReceiverProcess:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "fast_receiver.py"), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        words = self.process.stdout.readline().split()
        self.url = f"http://127.0.0.1:{words[1]}/events"
        self.tcp_port = words[3]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def throwaway_python(name: str, requirement: str, install: bool) -> Path | None:
    """A venv under build/ with one package from PyPI: peers are never project dependencies."""
    python = BUILD / f"bench-venv-{name}" / "bin" / "python"
    if python.exists():
        return python
    if not install:
        return None
    print(f"installing {requirement} into a throwaway venv ...", file=sys.stderr)
    venv.create(python.parent.parent, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True)
    return python


def broker_reachable() -> bool:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def bench_queue() -> Iterator[str]:
    """A durable queue bound to eventtask (as MozDef's), deleted afterwards; yields its AMQP URL."""
    import pika

    key = f"mozdef-client-bench-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.ConnectionParameters(*BROKER))
    channel = connection.channel()
    channel.exchange_declare("eventtask", exchange_type="direct", durable=True)
    channel.queue_declare(key, durable=True)
    channel.queue_bind(key, "eventtask", routing_key=key)
    connection.close()  # idle for the whole run, it would miss its heartbeats
    try:
        yield f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/%2F?routing_key={key}"
    finally:
        connection = pika.BlockingConnection(pika.ConnectionParameters(*BROKER))
        connection.channel().queue_delete(key)
        connection.close()


@contextlib.contextmanager
def loginput() -> Iterator[tuple[str, str] | None]:
    """MozDef's real loginput on a private exchange: (its /_bulk URL, an AMQP URL to count)."""
    python = KIT_VENV / "bin" / "python"
    if not (KIT / "loginput.py").exists() or not broker_reachable():
        yield None
        return
    subprocess.run(
        ["bash", str(KIT / "setup.sh"), str(KIT_VENV)], check=True, stdout=subprocess.DEVNULL
    )
    exchange = f"bench{uuid.uuid4().hex[:8]}"
    capture = f"{exchange}.cap"
    kit = [str(python), str(KIT / "capture.py")]
    subprocess.run(
        [*kit, "declare", capture, "--exchange", exchange], check=True, stdout=subprocess.DEVNULL
    )
    log = (BUILD / "bench-loginput.log").open("w")
    server = subprocess.Popen(
        [str(python), str(KIT / "loginput.py"), "0", "--exchange", exchange],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        amqp = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/%2F?routing_key={capture}"
        yield f"http://127.0.0.1:{port}/_bulk", amqp
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        subprocess.run(
            [*kit, "delete", capture, exchange, "--exchange", exchange],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        subprocess.run(
            [*kit, "delete-exchange", "--exchange", exchange],
            stdout=subprocess.DEVNULL,
            check=False,
        )


def run_one(
    row: Row,
    python: Path,
    url: str,
    count: int,
    orjson: bool,
    extra: list[str],
    env: dict[str, str],
) -> Result:
    script = {"legacy-1.1": "legacy_1_1.py", "logstash": "logstash_peer.py"}.get(row.python)
    if script is not None:
        command = [str(python), str(HERE / script), url, *extra, str(count)]
    else:
        flag = [] if orjson else ["--no-orjson"]
        command = [str(python), str(HERE / "scenarios.py"), *flag, row.scenario, url, str(count)]
    try:
        # A peer that hangs (1.1 once deadlocked at exit) costs its row, not the run.
        output = subprocess.run(
            command, check=True, capture_output=True, text=True, env={**os.environ, **env},
            timeout=300,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"  {row.label}: failed ({exc}); row left out", file=sys.stderr)
        return None
    result: Result = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def run_all(quick: bool, peers: dict[str, Path | None]) -> dict[tuple[str, bool], Result]:
    results: dict[tuple[str, bool], Result] = {}
    receiver, down = ReceiverProcess(), ReceiverProcess("--status", "503")
    amqp = bench_queue() if broker_reachable() else contextlib.nullcontext(None)
    mozdef = contextlib.nullcontext(None) if quick else loginput()
    try:
        with amqp as amqp_url, mozdef as loginput_urls:
            for row in ROWS:
                count = row.quick if quick else row.full
                python = peers.get(row.python, Path(sys.executable))
                targets = {
                    "http": receiver.url,
                    "down": down.url,
                    "none": "-",
                    "amqp": amqp_url,
                    "loginput": loginput_urls[0] if loginput_urls else None,
                }
                url = targets[row.target]
                if not count or url is None or python is None:
                    continue
                extra = [receiver.tcp_port] if row.python == "logstash" else []
                env = {"BENCH_LOGINPUT_AMQP": loginput_urls[1]} if loginput_urls else {}
                for orjson in (False, True) if row.both else (False,):
                    print(f"  {row.label}{' (orjson)' if orjson else ''} ...", file=sys.stderr)
                    result = run_one(row, python, url, count, orjson, extra, env)
                    if result is not None:
                        results[row.scenario, orjson] = result
    finally:
        receiver.stop()
        down.stop()
    return results


def median_of(runs: list[dict[tuple[str, bool], Result]]) -> dict[tuple[str, bool], Result]:
    merged: dict[tuple[str, bool], Result] = {}
    for key in runs[0]:
        values = [run[key] for run in runs if key in run]
        merged[key] = {
            field: statistics.median(float(v[field]) for v in values)  # type: ignore[arg-type]
            if isinstance(values[0][field], (int, float)) and field != "events"
            else values[0][field]
            for field in values[0]
        }
    return merged


Runs = list[dict[tuple[str, bool], Result]]


def _median(runs: Runs, scenario: str, orjson: bool, field: str) -> float | None:
    values = [float(r[scenario, orjson][field]) for r in runs if (scenario, orjson) in r]  # type: ignore[arg-type]
    return statistics.median(values) if values else None


def _ratio(runs: Runs, top: tuple[str, bool], bottom: tuple[str, bool]) -> float | None:
    """events/s of ``top`` over ``bottom`` within each run; the median over the runs."""
    values = [
        float(r[top]["events_per_s"]) / float(r[bottom]["events_per_s"])  # type: ignore[arg-type]
        for r in runs
        if top in r and bottom in r
    ]
    return statistics.median(values) if values else None


def ratios(runs: Runs) -> list[str]:
    """Each of issue 12's targets, measured within one run (median over the runs)."""
    lines: list[str] = []

    def verdict(text: str, ok: bool) -> None:
        lines.append(f"{text}: {'met' if ok else 'NOT met'}")

    for orjson, limit in ((False, 12.0), (True, 6.0)):
        column = "with orjson" if orjson else "default install"
        median = _median(runs, "background", orjson, "caller_median_us")
        if median is not None:
            verdict(f"background send(), {column}: median {median:.1f} µs (≤ {limit:g})",
                    median <= limit)  # fmt: skip
        times = _ratio(runs, ("background", orjson), ("legacy_1_1", False))
        if times is not None and not orjson:
            verdict(f"background, {column}: {times:.0f}x mozdef-client 1.1 (≥ 100x)", times >= 100)
        rate = _median(runs, "background", orjson, "events_per_s")
        if rate is not None and orjson:
            verdict(f"background, {column}: {rate:,.0f} events/s (≥ 120,000)", rate >= 120_000)
        legacy_limit = 10.0 if orjson else 15.0
        legacy = _median(runs, "legacy_fire_and_forget", orjson, "caller_median_us")
        if legacy is not None:
            verdict(f"legacy fire-and-forget send(), {column}: median {legacy:.1f} µs "
                    f"(≤ {legacy_limit:g})", legacy <= legacy_limit)  # fmt: skip
        amqp = _ratio(runs, ("amqp_background", orjson), ("pika_bare", False))
        if amqp is not None:
            verdict(f"AMQP with confirms, {column}: {amqp:.0%} of pika's bare publish (≥ 80%)",
                    amqp >= 0.8)  # fmt: skip
        mozdef = _ratio(runs, ("mozdef_bulk", orjson), ("mozdef_preencoded", False))
        if mozdef is not None:
            verdict(f"MozDef loginput, {column}: background /_bulk at {mozdef:.0%} of "
                    "pre-encoded arrays (≥ 90%)", mozdef >= 0.9)  # fmt: skip
        rss = _median(runs, "background_down", orjson, "peak_rss_mb")
        if rss is not None:
            events = runs[0]["background_down", orjson]["events"]
            verdict(f"{events:,} events, receiver down, {column}: peak RSS {rss:.0f} MB (< 100)",
                    rss < 100)  # fmt: skip
    rate = _median(runs, "durable", False, "events_per_s")
    median = _median(runs, "durable", False, "caller_median_us")
    p99 = _median(runs, "durable", False, "caller_p99_us")
    if rate is not None and median is not None and p99 is not None:
        verdict(f"durable, default install: {rate:,.0f} events/s (≥ 30,000), send() median "
                f"{median:.1f} µs (≤ 20), p99 {p99:.0f} µs (≤ 500)",
                rate >= 30_000 and median <= 20 and p99 <= 500)  # fmt: skip
    durable = _ratio(runs, ("durable", False), ("append_floor", False))
    if durable is not None:
        lines.append(f"durable, default install: {durable:.1%} of the bare append's rate (for "
                     "target 3, not measured against here)")  # fmt: skip
    return lines


def print_table(results: dict[tuple[str, bool], Result], quick: bool, repeat: int) -> None:
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
        f"{' (quick run)' if quick else ''}{f', median of {repeat} runs' if repeat > 1 else ''}"
    )
    print(f"{'':50} {'default install (no orjson)':>37} | {'with orjson':>27}")
    print(
        f"{'scenario':50} {'events/s':>10} {'median µs':>9} {'p99 µs':>8} {'RSS MB':>7} | "
        f"{'events/s':>10} {'median µs':>9} {'RSS MB':>6}  notes"
    )
    for row in ROWS:
        plain, fast = results.get((row.scenario, False)), results.get((row.scenario, True))
        if plain is None:
            continue
        notes = {
            k: v
            for k, v in plain.items()
            if k in ("arrived", "left", "dropped", "pending_memory", "pending_spool") and v
        }
        text = (
            f"{row.label:50} {plain['events_per_s']:>10,.0f} {plain['caller_median_us']:>9.1f} "
            f"{plain['caller_p99_us']:>8.1f} {plain['peak_rss_mb']:>7.1f} | "
        )
        if fast is not None:
            text += (
                f"{fast['events_per_s']:>10,.0f} {fast['caller_median_us']:>9.1f} "
                f"{fast['peak_rss_mb']:>6.1f}"
            )
        else:
            text += f"{'—':>10} {'':>9} {'':>6}"
        print(f"{text}  {json.dumps(notes) if notes else ''}")


def check(results: dict[tuple[str, bool], Result]) -> int:
    """Every scenario that should deliver everything did: a benchmark that lost
    events would be measuring the wrong thing."""
    failed = 0
    for (scenario, orjson), r in results.items():
        if "arrived" in r and float(r["arrived"]) < float(r["events"]):  # type: ignore[arg-type]
            print(
                f"ERROR: {scenario}{' (orjson)' if orjson else ''}: "
                f"{r['arrived']} of {r['events']} events arrived"
            )
            failed += 1
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--no-legacy", action="store_true", help="skip the peers' venvs")
    parser.add_argument("--repeat", type=int, default=1, help="runs; each cell their median")
    args = parser.parse_args()
    install = not args.quick and not args.no_legacy
    peers: dict[str, Path | None] = {
        "legacy-1.1": None
        if args.no_legacy
        else throwaway_python("1.1", "mozdef-client==1.1", install),
        "logstash": None
        if args.no_legacy
        else throwaway_python("logstash", "python-logstash-async", install),
    }
    runs = []
    for number in range(args.repeat):
        print(f"run {number + 1} of {args.repeat}", file=sys.stderr)
        runs.append(run_all(args.quick, peers))
    results = median_of(runs) if args.repeat > 1 else runs[0]
    print_table(results, args.quick, args.repeat)
    print()
    for text in ratios(runs):
        print(text)
    return max(check(run) for run in runs)


if __name__ == "__main__":
    sys.exit(main())
