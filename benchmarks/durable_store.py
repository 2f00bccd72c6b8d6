"""The durable store against its floors, all measured in one run.

    python benchmarks/durable_store.py [--count N] [--runs R] [--quick]

Floors: a bare ``os.write`` append to an O_APPEND file, and SQLite (WAL,
``synchronous=NORMAL``) with one insert per commit, each writing the same
payload. Then the store itself (``Spool.append``), durable ``send()`` end to
end against benchmarks/fast_receiver.py (events/s counts until every event
was acknowledged, i.e. ``flush()`` returned), background ``send()`` for the
share of encoding, and the opt-in power-loss modes: ``fsync="interval"`` (a
thread syncs once a second; its store row includes the last sync, at close)
and ``fsync=True`` (an fdatasync per append). Each figure is the
median of R runs; compare ratios within one run (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DETAILS = {"username": "joe", "sourceipaddress": "10.1.2.3", "success": False}


class Result:
    def __init__(self, count: int, elapsed: float, samples: list[int]) -> None:
        samples.sort()
        self.rate = count / elapsed
        self.median_us = samples[len(samples) // 2] / 1000
        self.p99_us = samples[int(len(samples) * 0.99) - 1] / 1000


def timed(count: int, one: Callable[[int], object], finish: Callable[[], object] = lambda: None
          ) -> Result:  # fmt: skip
    clock = time.perf_counter_ns
    samples = [0] * count
    started = time.perf_counter()
    for index in range(count):
        start = clock()
        one(index)
        samples[index] = clock() - start
    finish()
    return Result(count, time.perf_counter() - started, samples)


def payload() -> bytes:
    from mozdef_client import Event, Severity
    from mozdef_client.client import prepare

    event = Event(summary="event 1", severity=Severity.WARNING, tags=("bench",), details=DETAILS)
    return bytes(prepare(event).payload)


def bare_append(count: int, data: bytes) -> Result:
    with tempfile.TemporaryDirectory() as directory:
        fd = os.open(os.path.join(directory, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            return timed(count, lambda _: os.write(fd, data))
        finally:
            os.close(fd)


def sqlite_commit(count: int, data: bytes) -> Result:
    with tempfile.TemporaryDirectory() as directory:
        db = sqlite3.connect(os.path.join(directory, "s.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, destination TEXT, payload BLOB,"
                   " severity TEXT, created REAL)")  # fmt: skip
        insert = "INSERT INTO events (destination, payload, severity, created) VALUES (?,?,?,?)"
        try:
            return timed(count, lambda _: db.execute(insert, ("d", data, "INFO", time.time())))
        finally:
            db.close()


def store_append(count: int, data: bytes, fsync: bool | str = False) -> Result:
    from mozdef_client.delivery.spool import Spool
    from mozdef_client.transports.base import EncodedEvent

    event = EncodedEvent(data)
    with tempfile.TemporaryDirectory() as directory:
        spool = Spool(directory, max_bytes=1 << 40, min_free_bytes=16 << 20, fsync=fsync)
        try:
            # "interval" syncs in the background: count its last sync too.
            finish = spool.close if fsync == "interval" else (lambda: None)
            return timed(count, lambda _: spool.append(["http://x/events"], [event]), finish)
        finally:
            spool.close()


def client_send(url: str, count: int, mode: str, fsync: bool | str = False) -> Result:
    from mozdef_client import Client, DeliveryOptions, Event, Severity

    with tempfile.TemporaryDirectory() as directory:
        client = Client(url, mode=mode, spool_dir=directory if mode == "durable" else None,  # type: ignore[arg-type]
                        delivery=DeliveryOptions(fsync=fsync))  # type: ignore[arg-type]  # fmt: skip

        def one(index: int) -> None:
            client.send(Event(summary=f"event {index}", severity=Severity.WARNING,
                              tags=("bench",), details=DETAILS))  # fmt: skip

        def finish() -> None:
            left = client.flush(300)
            assert left == 0, f"{left} events not delivered"

        try:
            return timed(count, one, finish)
        finally:
            client.close(0)


def median_of(runs: int, measure: Callable[[], Result]) -> Result:
    results = [measure() for _ in range(runs)]
    results.sort(key=lambda r: r.rate)
    middle = results[len(results) // 2]
    middle.median_us = statistics.median(r.median_us for r in results)
    middle.p99_us = statistics.median(r.p99_us for r in results)
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument(
        "--orjson",
        action="store_true",
        help="use orjson if installed (default: the default install, without)",
    )
    args = parser.parse_args()
    if not args.orjson:
        sys.modules["orjson"] = None  # type: ignore[assignment]  # as if not installed
    count, runs = (5000, 1) if args.quick else (args.count, args.runs)
    slow = max(500, count // 50)  # fsync is slow: fewer events

    receiver = subprocess.Popen([sys.executable, str(HERE / "fast_receiver.py")],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert receiver.stdout is not None
        url = f"http://127.0.0.1:{receiver.stdout.readline().split()[1]}/events"
        data = payload()
        rows = [
            (
                "floor: bare os.write append",
                count,
                median_of(runs, lambda: bare_append(count, data)),
            ),
            (
                "floor: SQLite WAL, one insert per commit",
                count,
                median_of(runs, lambda: sqlite_commit(count, data)),
            ),
            ("store: Spool.append", count, median_of(runs, lambda: store_append(count, data))),
            (
                "durable send(), end to end",
                count,
                median_of(runs, lambda: client_send(url, count, "durable")),
            ),
            (
                "background send(), end to end (encoding share)",
                count,
                median_of(runs, lambda: client_send(url, count, "background")),
            ),
            (
                "store: Spool.append, fsync='interval'",
                count,
                median_of(runs, lambda: store_append(count, data, fsync="interval")),
            ),
            (
                "durable send(), fsync='interval', end to end",
                count,
                median_of(runs, lambda: client_send(url, count, "durable", fsync="interval")),
            ),
            (
                "store: Spool.append, fsync=True",
                slow,
                median_of(runs, lambda: store_append(slow, data, fsync=True)),
            ),
            (
                "durable send(), fsync=True, end to end",
                slow,
                median_of(runs, lambda: client_send(url, slow, "durable", fsync=True)),
            ),
        ]
    finally:
        receiver.terminate()
        receiver.wait(10)
    floor = rows[0][2]
    encoder = "orjson" if args.orjson and sys.modules.get("orjson") else "stdlib json"
    print(f"payload {len(data)} bytes; median of {runs} runs; python {sys.version.split()[0]}; "
          f"{encoder}; {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'scenario':50} {'events':>8} {'events/s':>10} {'median µs':>10} {'p99 µs':>9}"
          f" {'rate/floor':>10}")  # fmt: skip
    for name, events, result in rows:
        print(f"{name:50} {events:8d} {result.rate:10.0f} {result.median_us:10.1f}"
              f" {result.p99_us:9.1f} {result.rate / floor.rate:10.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
