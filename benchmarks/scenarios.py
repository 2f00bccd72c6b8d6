"""One benchmark scenario per process, so each reports its own peak RSS.

Run by run.py as: python benchmarks/scenarios.py SCENARIO URL COUNT
Prints one JSON object: events_per_s, caller_median_us, caller_p99_us,
peak_rss_mb and scenario-specific fields.

The timed unit is what a program does per event: build the event and call
send(); throughput counts until every event was acknowledged by the receiver
(flush() for the background and durable modes).
"""

from __future__ import annotations

import array
import json
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable

DETAILS = {"username": "joe", "sourceipaddress": "10.1.2.3", "success": False}


def receiver_count(url: str) -> int:
    base = url.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{base}/count", timeout=5) as response:
        return int(response.read())


def timed_loop(count: int, send_one: Callable[[int], object]) -> array.array[int]:
    # An array of machine integers: a list of a million ints would add ~35 MB
    # of the benchmark's own to the peak RSS being measured.
    clock = time.perf_counter_ns
    samples: array.array[int] = array.array("q")
    for index in range(count):
        start = clock()
        send_one(index)
        samples.append(clock() - start)
    return samples


def report(count: int, elapsed: float, unsorted: array.array[int], **extra: object) -> None:
    # Read the peak before sorting the samples, which builds a list of them.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    samples = sorted(unsorted)
    result = {
        "events": count,
        "events_per_s": count / elapsed,
        "caller_median_us": statistics.median(samples) / 1000,
        "caller_p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
        "peak_rss_mb": peak_rss_mb,
        **extra,
    }
    print(json.dumps(result))


def legacy_sync(url: str, count: int) -> None:
    import mozdef_client

    def send_one(index: int) -> None:
        message = mozdef_client.MozDefEvent(url)
        message.summary = f"legacy event {index}"
        message.tags = ["bench"]
        message.details = DETAILS
        message.send()

    before = receiver_count(url)
    started = time.perf_counter()
    samples = timed_loop(count, send_one)
    elapsed = time.perf_counter() - started
    report(count, elapsed, samples, arrived=receiver_count(url) - before)


def legacy_fire_and_forget(url: str, count: int) -> None:
    """The 1.1 face with set_fire_and_forget(True): the caller's cost of a queued send."""
    import mozdef_client
    from mozdef_client.legacy import flush_fire_and_forget

    def send_one(index: int) -> None:
        message = mozdef_client.MozDefEvent(url)
        message.summary = f"legacy event {index}"
        message.tags = ["bench"]
        message.details = DETAILS
        message.set_fire_and_forget(True)
        message.send()

    before = receiver_count(url)
    started = time.perf_counter()
    samples = timed_loop(count, send_one)
    left = flush_fire_and_forget(timeout=120)
    elapsed = time.perf_counter() - started
    report(count, elapsed, samples, arrived=receiver_count(url) - before, left=left)


def urllib3_single(url: str, count: int) -> None:
    """The anchor: a urllib3 pool posting one event per request, no library."""
    import urllib3

    pool = urllib3.PoolManager()
    headers = {"Content-Type": "application/json"}

    def send_one(index: int) -> None:
        body = json.dumps({"summary": f"event {index}", "details": DETAILS}).encode()
        pool.request("POST", url, body=body, headers=headers)

    before = receiver_count(url)
    started = time.perf_counter()
    samples = timed_loop(count, send_one)
    elapsed = time.perf_counter() - started
    report(count, elapsed, samples, arrived=receiver_count(url) - before)


def _pipelined(url: str, count: int, mode: str, **options: object) -> None:
    from mozdef_client import Client, DeliveryOptions, Event, Severity

    with tempfile.TemporaryDirectory() as spool_dir:
        client = Client(
            url,
            mode=mode,  # type: ignore[arg-type]
            spool_dir=spool_dir
            if mode == "durable" or options.get("overflow") == "spill"
            else None,
            delivery=DeliveryOptions(**options),  # type: ignore[arg-type]
        )

        def send_one(index: int) -> None:
            client.send(
                Event(
                    summary=f"event {index}",
                    severity=Severity.WARNING,
                    tags=("bench",),
                    details=DETAILS,
                )
            )

        before = receiver_count(url)
        started = time.perf_counter()
        samples = timed_loop(count, send_one)
        left = client.flush(300)
        elapsed = time.perf_counter() - started
        stats = client.stats()
        report(
            count,
            elapsed,
            samples,
            arrived=receiver_count(url) - before,
            left=left,
            dropped=dict(stats.dropped),
            pending_spool=stats.pending_spool,
        )
        client.close(0)


def _while_down(url: str, count: int, mode: str, **options: object) -> None:
    """Send while the receiver refuses everything: memory must stay bounded."""
    from mozdef_client import Client, DeliveryOptions, Event, RetryPolicy

    with tempfile.TemporaryDirectory() as spool_dir:
        client = Client(
            url,
            mode=mode,  # type: ignore[arg-type]
            spool_dir=spool_dir if mode == "durable" else None,
            delivery=DeliveryOptions(
                retry=RetryPolicy(backoff_initial=0.5, backoff_max=5.0),
                exit_timeout=None,
                **options,  # type: ignore[arg-type]
            ),
        )
        started = time.perf_counter()
        samples = timed_loop(
            count, lambda i: client.send(Event(summary=f"event {i}", details=DETAILS))
        )
        elapsed = time.perf_counter() - started
        stats = client.stats()
        report(
            count,
            elapsed,
            samples,
            dropped=dict(stats.dropped),
            pending_memory=stats.pending_memory,
            pending_spool=stats.pending_spool,
        )
        client.close(0)


SCENARIOS: dict[str, Callable[[str, int], None]] = {
    "legacy_sync": legacy_sync,
    "legacy_fire_and_forget": legacy_fire_and_forget,
    "urllib3_single": urllib3_single,
    "background": lambda url, n: _pipelined(url, n, "background"),
    "durable": lambda url, n: _pipelined(url, n, "durable"),
    "background_down": lambda url, n: _while_down(url, n, "background", overflow="drop_oldest"),
    "durable_down": lambda url, n: _while_down(url, n, "durable"),
}

if __name__ == "__main__":
    name, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    SCENARIOS[name](url, count)
