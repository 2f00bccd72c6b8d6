"""Soak: many threads send while the receiver dies, comes back and refuses requests.

16 threads send numbered events, half through a background client and half
through a durable one, for about 20 seconds. Meanwhile the receiver (its
own process) is killed and restarted every few seconds, and while it is up
it answers some requests 503, 429 or 413 (batches only); the last outage
spans the clients' close. Afterwards every
event must have arrived (the durable mode's duplicates are counted, not
lost), memory must have stayed flat and the close must have been bounded.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from pathlib import Path

import pytest

from delivery_helpers import ReceiverProcess, numbers_of, wait_until
from hostile import PeakRSS
from mozdef_client import Client, Event
from mozdef_client.delivery import DeliveryOptions, RetryPolicy
from servers import free_port

THREADS_PER_MODE = 8
EVENTS_PER_THREAD = 1500
SENDING_SECONDS = 16.0
OUTAGE_EVERY = 3.0  # seconds up between kills
OUTAGE_FOR = 0.7  # seconds down
FINAL_BURST = 2000  # per mode, sent while the receiver is down just before the close
MiB = 1024 * 1024

# Short backoff, so retries after each restart come soon; Retry-After 0 is honoured.
OPTIONS = DeliveryOptions(
    retry=RetryPolicy(backoff_initial=0.05, backoff_max=0.5),
    flush_interval=0.05,
    max_batch_events=200,
    exit_timeout=None,
)


@pytest.mark.slow
def test_soak_nothing_is_lost_memory_stays_flat_and_close_is_bounded(tmp_path: Path) -> None:
    receiver = ReceiverProcess(free_port(), tmp_path / "received.jsonl", chaos=True)
    receiver.start()
    background = Client(receiver.url, mode="background", delivery=OPTIONS)
    durable = Client(receiver.url, mode="durable", spool_dir=str(tmp_path / "spool"),
                     delivery=OPTIONS)  # fmt: skip
    stopping = threading.Event()
    errors: list[BaseException] = []
    restarts = [0]

    def sender(client: Client, label: str, first: int) -> None:
        pause = SENDING_SECONDS / EVENTS_PER_THREAD
        try:
            for n in range(first, first + EVENTS_PER_THREAD):
                client.send(Event(summary=f"soak {n}", details={label: n}))
                time.sleep(pause)
        except BaseException as exc:
            errors.append(exc)

    def chaos_monkey() -> None:
        while not stopping.wait(OUTAGE_EVERY):
            receiver.kill()
            time.sleep(OUTAGE_FOR)
            receiver.start()
            restarts[0] += 1

    total = THREADS_PER_MODE * EVENTS_PER_THREAD
    threads = [
        threading.Thread(target=sender, args=(client, label, index * EVENTS_PER_THREAD))
        for client, label in ((background, "bg"), (durable, "du"))
        for index in range(THREADS_PER_MODE)
    ]
    monkey = threading.Thread(target=chaos_monkey)
    with PeakRSS() as rss:
        for thread in threads:
            thread.start()
        monkey.start()
        for thread in threads:
            thread.join()
        stopping.set()
        monkey.join()
        # The last outage spans the close: events sent while the receiver is
        # down, which comes back 1 s into the close.
        receiver.kill()
        for client, label in ((background, "bg"), (durable, "du")):
            for n in range(total, total + FINAL_BURST):
                client.send(Event(summary=f"soak {n}", details={label: n}))
        back = threading.Timer(1.0, receiver.start)
        back.start()
        start = time.monotonic()
        left = background.close(timeout=30) + durable.close(timeout=30)
        close_took = time.monotonic() - start
        back.join()
    try:
        expected = set(range(total + FINAL_BURST))
        with contextlib.suppress(AssertionError):  # what is missing is shown below
            wait_until(lambda: len(receiver.events()) >= 2 * len(expected), timeout=10)
        events = receiver.events()
    finally:
        receiver.close()
    assert not errors, errors[:3]
    assert left == 0, (left, background.stats(), durable.stats())
    durable_stats = durable.stats()
    figures = {}
    for label, client in (("bg", background), ("du", durable)):
        counts = collections.Counter(numbers_of(events, label))
        missing = expected - set(counts)
        assert not missing, f"{label}: {len(missing)} events lost, e.g. {sorted(missing)[:5]}"
        assert not client.stats().dropped, client.stats().dropped
        assert client.stats().dead_lettered == 0
        figures[label] = sum(counts.values()) - len(expected)  # arrivals beyond one each
    # Durable mode counts what it may have sent twice; nothing arrived twice uncounted.
    assert figures["du"] <= durable_stats.duplicates + durable_stats.retried
    retried = background.stats().retried + durable_stats.retried
    assert restarts[0] >= 3 and retried > 0, "the chaos did not happen"
    assert close_took < 30
    assert rss.growth < 80 * MiB, f"RSS grew by {rss.growth / MiB:.0f} MiB"
    print(  # shown with -s, and in the report
        f"\nsoak: {2 * len(expected)} events, duplicates bg={figures['bg']} du={figures['du']} "
        f"(counted {durable_stats.duplicates}), peak RSS {rss.peak / MiB:.0f} MiB "
        f"(+{rss.growth / MiB:.0f}), close {close_took:.2f} s, {restarts[0]} restarts, "
        f"{retried} events retried"
    )
