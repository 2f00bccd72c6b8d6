"""The bounded memory queue: order, batch limits, and each overflow policy, counted by reason."""

from __future__ import annotations

import threading
import time

import pytest

from mozdef_client import Client, Event
from mozdef_client.delivery import DeliveryOptions
from mozdef_client.delivery.memory_queue import MemoryQueue
from mozdef_client.delivery.stats import Counters
from mozdef_client.testing import RecordingTransport
from mozdef_client.transports.base import EncodedEvent


def event(n: int) -> EncodedEvent:
    return EncodedEvent(b'{"n":%d}' % n)


def numbers(batch: list[EncodedEvent]) -> list[int]:
    return [int(e.payload[5:-1]) for e in batch]


def queue(overflow: str, *, max_events: int = 3, block_timeout: float = 0.2, spill=None):
    counters = Counters()
    return (
        MemoryQueue(
            max_events=max_events,
            overflow=overflow,
            block_timeout=block_timeout,
            wake_at=2,
            counters=counters,
            spill=spill,
        ),
        counters,
    )


def test_take_returns_the_oldest_events_within_the_limits():
    q, _ = queue("drop_newest", max_events=10)
    for n in range(6):
        q.put(event(n))
    assert numbers(q.take(max_events=2, max_bytes=1000)) == [0, 1]
    assert numbers(q.take(max_events=10, max_bytes=14)) == [2, 3]  # 7 bytes each
    assert numbers(q.take(max_events=10, max_bytes=1)) == [4]  # one event, whatever its size
    assert numbers(q.take(max_events=10, max_bytes=1000)) == [5]
    assert q.take(max_events=10, max_bytes=1000) == []


def test_put_back_returns_events_to_the_front_in_order():
    q, _ = queue("drop_newest", max_events=10)
    for n in range(4):
        q.put(event(n))
    batch = q.take(2, 1000)
    q.put_back(batch)
    assert numbers(q.take(10, 1000)) == [0, 1, 2, 3]


def test_the_worker_is_woken_once_a_batch_is_ready():
    q, _ = queue("drop_newest")
    q.put(event(1))
    assert not q.wake.is_set()
    q.put(event(2))
    assert q.wake.is_set()


def test_drop_newest_refuses_the_new_event_and_counts_it():
    q, counters = queue("drop_newest")
    assert [q.put(event(n)) for n in range(5)] == [True, True, True, False, False]
    assert numbers(q.take(10, 1000)) == [0, 1, 2]
    assert dict(counters.dropped) == {"queue_full": 2}


def test_drop_oldest_keeps_the_newest_and_counts_what_it_dropped():
    q, counters = queue("drop_oldest")
    assert all(q.put(event(n)) for n in range(5))
    assert numbers(q.take(10, 1000)) == [2, 3, 4]
    assert dict(counters.dropped) == {"queue_full": 2}


def test_block_waits_up_to_the_timeout_then_drops_and_counts():
    q, counters = queue("block", block_timeout=0.3)
    for n in range(3):
        q.put(event(n))
    started = time.monotonic()
    assert q.put(event(3)) is False
    waited = time.monotonic() - started
    assert 0.25 <= waited < 5.0
    assert len(q) == 3
    assert dict(counters.dropped) == {"queue_full": 1}


def test_block_takes_the_event_as_soon_as_the_worker_makes_room():
    q, counters = queue("block", block_timeout=10.0)
    for n in range(3):
        q.put(event(n))
    taken: list[EncodedEvent] = []
    worker = threading.Timer(0.2, lambda: taken.extend(q.take(1, 1000)))
    worker.start()
    started = time.monotonic()
    assert q.put(event(3)) is True
    assert time.monotonic() - started < 5.0  # woken, not timed out
    worker.join()
    assert numbers(taken) == [0]
    assert numbers(q.take(10, 1000)) == [1, 2, 3]
    assert dict(counters.dropped) == {}


def test_spill_hands_overflow_to_the_spill_callback():
    spilled: list[EncodedEvent] = []

    def spill(e: EncodedEvent) -> bool:
        spilled.append(e)
        return len(spilled) < 2  # the second spill fails (e.g. the spool is full)

    q, counters = queue("spill", spill=spill)
    assert [q.put(event(n)) for n in range(5)] == [True, True, True, True, False]
    assert numbers(spilled) == [3, 4]
    assert numbers(q.take(10, 1000)) == [0, 1, 2]
    assert dict(counters.dropped) == {}  # the callback counts its own drops


def test_clear_empties_and_says_how_many():
    q, _ = queue("drop_newest")
    for n in range(3):
        q.put(event(n))
    assert q.clear() == 3 and len(q) == 0


# -- the same policies through a Client ----------------------------------------------------


class GatedTransport(RecordingTransport):
    """A destination that takes its first batch and holds it until the gate opens.

    While it holds that batch, the client's queue fills up exactly as the
    test says, whatever the threads' timing.
    """

    def __init__(self) -> None:
        super().__init__(self._hold, name="gated")
        self.busy = threading.Event()
        self.gate = threading.Event()

    def _hold(self, batch: list[EncodedEvent]) -> None:
        self.busy.set()
        assert self.gate.wait(30)

    @property
    def summaries(self) -> list[str]:
        return [document["summary"] for document in self.documents]


def fill(client: Client, transport: GatedTransport, count: int) -> list[bool]:
    """Send e0 and wait until it is in flight, then send e1..e<count>."""
    results = [client.send(Event(summary="e0"))]
    assert transport.busy.wait(10)
    return results + [client.send(Event(summary=f"e{n}")) for n in range(1, count + 1)]


@pytest.mark.parametrize(
    ("overflow", "accepted", "arrived"),
    [
        ("drop_newest", [True] * 6 + [False] * 5, [0, 1, 2, 3, 4, 5]),
        ("drop_oldest", [True] * 11, [0, 6, 7, 8, 9, 10]),
        ("block", [True] * 6 + [False] * 5, [0, 1, 2, 3, 4, 5]),
    ],
)
def test_client_counts_each_drop_by_reason(overflow, accepted, arrived):
    options = DeliveryOptions(max_queue_events=5, overflow=overflow, block_timeout=0.05)
    transport = GatedTransport()
    client = Client(transport, mode="background", delivery=options)
    try:
        assert fill(client, transport, 10) == accepted
        stats = client.stats()
        assert stats.submitted == 11
        assert dict(stats.dropped) == {"queue_full": 5}
        assert stats.pending_memory == 6  # five queued, one in flight
        transport.gate.set()
        assert client.flush(timeout=10) == 0
        assert transport.summaries == [f"e{n}" for n in arrived]
        assert client.stats().delivered == 6
    finally:
        transport.gate.set()
        client.close(timeout=5)


def test_client_spills_overflow_to_the_spool_and_counts_spool_full(tmp_path):
    options = DeliveryOptions(max_queue_events=5, overflow="spill", spool_max_bytes=2000)
    transport = GatedTransport()
    client = Client(transport, mode="background", spool_dir=str(tmp_path), delivery=options)
    try:
        results = fill(client, transport, 29)
        stats = client.stats()
        spilled = stats.pending_spool
        assert 0 < spilled < 24  # events of about 300 bytes: a few fit in 2000
        assert stats.pending_memory == 6  # five queued, one in flight
        assert results == [True] * (6 + spilled) + [False] * (24 - spilled)
        assert dict(stats.dropped) == {"spool_full": 24 - spilled}
        transport.gate.set()
        assert client.flush(timeout=10) == 0
        # Memory first, then what spilled to the spool: every accepted event, once.
        assert transport.summaries == [f"e{n}" for n in range(6 + spilled)]
    finally:
        transport.gate.set()
        client.close(timeout=5)
