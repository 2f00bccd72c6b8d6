"""One benchmark scenario per process, so each reports its own peak RSS.

Run by run.py as: python benchmarks/scenarios.py [--no-orjson] SCENARIO URL COUNT
Prints one JSON object: events_per_s, caller_median_us, caller_p99_us,
peak_rss_mb and scenario-specific fields. ``--no-orjson`` makes ``import
orjson`` fail, as in the default install (orjson is an extra).

The timed unit is what a program does per event: build the event and call
send(); throughput counts until every event was acknowledged by the receiver
(flush() for the background and durable modes).
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

DETAILS = {"username": "joe", "sourceipaddress": "10.1.2.3", "success": False}
BATCH = 5000  # DeliveryOptions.max_batch_events: the batches pre-encoded floors send too


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


def _send_and_flush(client: Any, count: int, flush_timeout: float) -> tuple[float, Any, int]:
    """Send ``count`` benchmark events (built inside the timed loop, as a program
    does), then flush: (seconds until flush() returned, per-call samples, left)."""
    from mozdef_client import Event, Severity

    started = time.perf_counter()
    samples = timed_loop(
        count,
        lambda i: client.send(
            Event(summary=f"event {i}", severity=Severity.WARNING, tags=("bench",),
                  details=DETAILS)
        ),
    )  # fmt: skip
    left = client.flush(flush_timeout)
    return time.perf_counter() - started, samples, left


def _pipelined(url: str, count: int, mode: str, **options: object) -> None:
    from mozdef_client import Client, DeliveryOptions

    with tempfile.TemporaryDirectory() as spool_dir:
        client = Client(
            url,
            mode=mode,  # type: ignore[arg-type]
            spool_dir=spool_dir
            if mode == "durable" or options.get("overflow") == "spill"
            else None,
            delivery=DeliveryOptions(**options),  # type: ignore[arg-type]
        )

        before = receiver_count(url)
        elapsed, samples, left = _send_and_flush(client, count, 300)
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


def _document(index: int) -> bytes:
    """One event as the library encodes it: what the floors send pre-encoded."""
    from mozdef_client import Event, Severity, prepare

    event = Event(
        summary=f"event {index}", severity=Severity.WARNING, tags=("bench",), details=DETAILS
    )
    return prepare(event).payload


def append_floor(url: str, count: int) -> None:
    """The durable floor: one os.write of a pre-encoded line to an append-only file."""
    line = _document(0) + b"\n"
    with tempfile.TemporaryDirectory() as directory:
        fd = os.open(f"{directory}/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        started = time.perf_counter()
        samples = timed_loop(count, lambda i: os.write(fd, line))
        elapsed = time.perf_counter() - started
        os.close(fd)
    report(count, elapsed, samples)


def urllib3_bulk_floor(url: str, count: int) -> None:
    """The HTTP floor: pre-encoded JSON-array batches over one urllib3 keep-alive connection."""
    import urllib3

    bulk = url.rsplit("/", 1)[0] + "/_bulk"
    body = b"[" + b",".join([_document(0)] * BATCH) + b"]"
    pool = urllib3.PoolManager(maxsize=1)
    headers = {"Content-Type": "application/json"}
    before = receiver_count(url)
    started = time.perf_counter()
    samples = timed_loop(
        max(1, count // BATCH), lambda i: pool.request("POST", bulk, body=body, headers=headers)
    )
    elapsed = time.perf_counter() - started
    sent = len(samples) * BATCH
    per_event = array.array("q", [s // BATCH for s in samples])
    report(sent, elapsed, per_event, arrived=receiver_count(url) - before)


def _queue_depth(amqp_url: str) -> int:
    with _broker(amqp_url) as channel:
        return _depth(channel, amqp_url)


@contextlib.contextmanager
def _broker(amqp_url: str) -> Iterator[Any]:
    """A channel on a connection of its own (the benchmark's, not the measured one)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url.split("?")[0]))
    try:
        yield connection.channel()
    finally:
        connection.close()


def _depth(channel: Any, amqp_url: str) -> int:
    queue = amqp_url.rsplit("routing_key=", 1)[1]
    return int(channel.queue_declare(queue, passive=True).method.message_count)


def _empty_queue(amqp_url: str) -> None:
    """Start both AMQP scenarios on an empty queue: a deep durable queue costs the broker."""
    with _broker(amqp_url) as channel:
        channel.queue_purge(amqp_url.rsplit("routing_key=", 1)[1])


def _until_queued(amqp_url: str, count: int) -> int:
    """Wait until the broker has queued ``count`` messages; how many it has."""
    with _broker(amqp_url) as channel:  # one connection for every poll
        deadline = time.monotonic() + 120
        while (queued := _depth(channel, amqp_url)) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return queued


def pika_bare(url: str, count: int) -> None:
    """The AMQP floor: pika's plain BlockingChannel.basic_publish, no confirms.

    The same messages the transport publishes: each event encoded as the
    library encodes it (before the clock starts), the same properties
    (persistent, application/json, utf-8), the same exchange, routing key and
    mandatory flag, into the same durable queue, emptied first. Counted until
    the broker reports all of them queued (the transport's count, until
    flush() returns, waits for confirms, which is stricter).
    """
    import pika

    key = url.rsplit("routing_key=", 1)[1]
    payloads = [_document(index) for index in range(count)]
    _empty_queue(url)
    connection = pika.BlockingConnection(pika.URLParameters(url.split("?")[0]))
    channel = connection.channel()
    properties = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=pika.DeliveryMode.Persistent,
    )
    publish = channel.basic_publish
    started = time.perf_counter()
    samples = timed_loop(
        count, lambda i: publish("eventtask", key, payloads[i], properties, mandatory=True)
    )
    arrived = _until_queued(url, count)
    elapsed = time.perf_counter() - started
    connection.close()
    report(count, elapsed, samples, arrived=arrived)


def amqp_background(url: str, count: int) -> None:
    """Background send() to RabbitMQ with publisher confirms, until flush() returns.

    Each event is built and encoded inside the timed loop (what a program
    does); flush() returns once the broker confirmed every event. The
    connection is open before the clock starts (as the floor's is), so both
    measure publishing, not a connection handshake.
    """
    from mozdef_client import Client, Event, Severity

    client = Client(url, mode="background")
    # Connected before the clock starts, as the floor is: one event sent and
    # confirmed opens the connection and the confirm-mode channel.
    client.send(Event(summary="warm-up", severity=Severity.WARNING, tags=("bench",)))
    client.flush(30)
    _empty_queue(url)
    elapsed, samples, left = _send_and_flush(client, count, 300)
    client.close(0)
    report(count, elapsed, samples, arrived=_queue_depth(url), left=left)


def _loginput_received(url: str) -> int:
    """What MozDef's loginput published, read from a queue bound to its exchange."""
    return _queue_depth(os.environ["BENCH_LOGINPUT_AMQP"])


def _loginput_settled(url: str, before: int, count: int) -> int:
    """What arrived, once the broker queued all of it (loginput publishes unconfirmed)."""
    arrived, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        now = _loginput_received(url) - before
        if now >= count or now == arrived:
            return now
        arrived = now
        time.sleep(0.5)
    return arrived


def mozdef_bulk(url: str, count: int) -> None:
    """Background send() to MozDef's real loginput /_bulk (url), until flush() returns."""
    from mozdef_client import Client

    client = Client(url, mode="background")
    before = _loginput_received(url)
    elapsed, samples, left = _send_and_flush(client, count, 600)
    client.close(0)
    report(count, elapsed, samples, arrived=_loginput_settled(url, before, count), left=left)


def mozdef_preencoded(url: str, count: int, ndjson: bool = False) -> None:
    """Pre-encoded JSON arrays (or NDJSON) of 5,000 events through the same loginput /_bulk."""
    import urllib3

    events = [_document(0)] * BATCH
    body = b"\n".join(events) + b"\n" if ndjson else b"[" + b",".join(events) + b"]"
    pool = urllib3.PoolManager(maxsize=1)
    headers = {"Content-Type": "application/x-ndjson" if ndjson else "application/json"}
    before = _loginput_received(url)
    started = time.perf_counter()
    samples = timed_loop(
        max(1, count // BATCH), lambda i: pool.request("POST", url, body=body, headers=headers)
    )
    elapsed = time.perf_counter() - started
    sent = len(samples) * BATCH
    per_event = array.array("q", [s // BATCH for s in samples])
    report(sent, elapsed, per_event, arrived=_loginput_settled(url, before, sent))


SCENARIOS: dict[str, Callable[[str, int], None]] = {
    "append_floor": append_floor,
    "urllib3_bulk_floor": urllib3_bulk_floor,
    "pika_bare": pika_bare,
    "amqp_background": amqp_background,
    "mozdef_bulk": mozdef_bulk,
    "mozdef_preencoded": mozdef_preencoded,
    "mozdef_preencoded_ndjson": lambda url, n: mozdef_preencoded(url, n, ndjson=True),
    "legacy_sync": legacy_sync,
    "legacy_fire_and_forget": legacy_fire_and_forget,
    "urllib3_single": urllib3_single,
    "background": lambda url, n: _pipelined(url, n, "background"),
    "durable": lambda url, n: _pipelined(url, n, "durable"),
    "background_down": lambda url, n: _while_down(url, n, "background", overflow="drop_oldest"),
    "durable_down": lambda url, n: _while_down(url, n, "durable"),
}

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[0] == "--no-orjson":
        sys.modules["orjson"] = None  # type: ignore[assignment]  # "import orjson" fails
        arguments = arguments[1:]
    name, url, count = arguments[0], arguments[1], int(arguments[2])
    SCENARIOS[name](url, count)
