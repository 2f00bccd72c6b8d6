"""The lane alone, driven by a fake Source and a scripted transport (no network).

The lane takes batches from its sources, sends them, classifies the answer
and settles each event exactly once through the source it came from. These
tests check that contract from the source's side: what it was asked to
settle, and how; and what the destination's counters say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from mozdef_client.delivery.lane import Lane
from mozdef_client.delivery.options import DeliveryOptions
from mozdef_client.delivery.retry import RetryPolicy
from mozdef_client.delivery.source import Source
from mozdef_client.delivery.stats import Counters
from mozdef_client.errors import (
    DeliveryError,
    DroppedError,
    EventTooLargeError,
    PermanentError,
    RetryableError,
)
from mozdef_client.transports.base import EncodedEvent, PartialDeliveryError

Script = Callable[[list[int]], None]  # sees the numbers in a batch; raises to fail it


class FakeSource:
    """Numbered items; records every settle the lane asks for."""

    def __init__(self, numbers: Sequence[int] = (), *, old: Sequence[int] = ()) -> None:
        self.waiting = list(numbers)
        self.old = set(old)  # items expired() calls old
        self.in_flight = 0
        self.settled: dict[str, list[int]] = {
            "delivered": [], "dead_lettered": [], "dropped": [], "released": [],
            "maybe_delivered": [],
        }  # fmt: skip
        self.messages: list[str] = []
        self.pending_calls = 0
        self.closed = False
        self._lock = threading.Lock()  # pending() never sees a batch half taken

    def take(self, max_events: int, max_bytes: int) -> list[int]:
        with self._lock:
            batch, self.waiting = self.waiting[:max_events], self.waiting[max_events:]
            self.in_flight += len(batch)
            return batch

    def events(self, items: Sequence[int]) -> list[EncodedEvent]:
        return [EncodedEvent(str(n).encode()) for n in items]

    def _settle(self, how: str, items: Sequence[int], back: bool = False) -> None:
        with self._lock:
            self.settled[how].extend(items)
            self.in_flight -= len(items)
            if back:
                self.waiting[:0] = items

    def delivered(self, items: Sequence[int]) -> int:
        self._settle("delivered", items)
        return sum(1 for n in items if n >= 100)  # 100 and up: sent before a crash

    def dead_lettered(self, items: Sequence[int], message: str) -> None:
        self._settle("dead_lettered", items)
        self.messages.append(message)

    def dropped(self, items: Sequence[int]) -> None:
        self._settle("dropped", items)

    def released(self, items: Sequence[int], *, maybe_delivered: bool) -> None:
        self._settle("maybe_delivered" if maybe_delivered else "released", items, back=True)

    def expired(self, items: list[int], max_age: float) -> tuple[list[int], list[int]]:
        return [n for n in items if n in self.old], [n for n in items if n not in self.old]

    def pending(self) -> tuple[int, int]:
        with self._lock:
            self.pending_calls += 1
            return len(self.waiting) + self.in_flight, 0

    def wake_with(self, wake: threading.Event) -> None:
        pass

    def close(self) -> tuple[int, int]:
        self.closed = True
        return 0, len(self.waiting) + self.in_flight

    def reset_after_fork(self) -> None:
        pass


class ScriptedTransport:
    name = "fake://destination"

    def __init__(self, script: Script | None = None) -> None:
        self.batches: list[list[int]] = []
        self.closed = False
        self._script = script

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        numbers = [int(event.payload) for event in batch]
        self.batches.append(numbers)
        if self._script is not None:
            self._script(numbers)

    def close(self) -> None:
        self.closed = True


def lane_of(
    sources: Sequence[Source[int]], transport: ScriptedTransport, **options: object
) -> Lane:
    settings: dict[str, object] = {
        "retry": RetryPolicy(backoff_initial=0.01, backoff_max=0.02, jitter=False),
        "flush_interval": 0.05,
        "exit_timeout": None,
    }
    settings.update(options)
    return Lane(transport, DeliveryOptions(**settings), Counters(), sources)  # type: ignore[arg-type]


def settle_all(lane: Lane, within: float = 5.0) -> int:
    left = lane.flush(time.monotonic() + within)
    lane.close(time.monotonic() + 1.0)
    return left


def test_a_batch_is_sent_and_settled_as_delivered_with_its_duplicates_counted() -> None:
    source = FakeSource([1, 2, 100])
    transport = ScriptedTransport()
    lane = lane_of([source], transport)
    assert settle_all(lane) == 0
    assert transport.batches == [[1, 2, 100]]
    assert source.settled["delivered"] == [1, 2, 100]
    _, stats = lane.snapshot()
    assert (stats.delivered, stats.duplicates, stats.pending_memory) == (3, 1, 0)
    assert transport.closed and source.closed


def test_sources_are_read_in_order_and_each_settles_only_its_own_events() -> None:
    first, second = FakeSource([1, 2]), FakeSource([3])
    transport = ScriptedTransport()
    lane = lane_of([first, second], transport)
    settle_all(lane)
    assert transport.batches == [[1, 2], [3]]
    assert (first.settled["delivered"], second.settled["delivered"]) == ([1, 2], [3])


def test_a_partial_delivery_settles_each_event_by_its_own_error() -> None:
    def script(numbers: list[int]) -> None:
        if numbers == [1, 2, 3]:
            raise PartialDeliveryError(
                "two of three failed", destination="fake",
                failures={1: PermanentError("refused 2"), 2: RetryableError("busy for 3")},
            )  # fmt: skip

    source = FakeSource([1, 2, 3])
    transport = ScriptedTransport(script)
    lane = lane_of([source], transport)
    settle_all(lane)
    assert transport.batches == [[1, 2, 3], [3]]  # only the retryable one goes again
    assert source.settled["delivered"] == [1, 3]
    assert source.settled["dead_lettered"] == [2]
    assert source.messages == ["refused 2"]
    _, stats = lane.snapshot()
    assert (stats.delivered, stats.dead_lettered, stats.retried) == (2, 1, 1)


def test_a_dropping_transport_settles_the_batch_as_dropped_by_its_reason() -> None:
    def script(numbers: list[int]) -> None:
        raise DroppedError("no syslog socket", reason="unavailable")

    source = FakeSource([1, 2])
    lane = lane_of([source], ScriptedTransport(script))
    settle_all(lane)
    assert source.settled["dropped"] == [1, 2]
    _, stats = lane.snapshot()
    assert dict(stats.dropped) == {"unavailable": 2}
    assert (stats.delivered, stats.retried, stats.last_error) == (0, 0, "no syslog socket")


def test_a_batch_too_large_is_halved_until_the_one_event_too_large_is_dead_lettered() -> None:
    def script(numbers: list[int]) -> None:
        if 3 in numbers:
            raise EventTooLargeError("413: too large")

    source = FakeSource([1, 2, 3, 4])
    transport = ScriptedTransport(script)
    lane = lane_of([source], transport)
    settle_all(lane)
    assert sorted(source.settled["delivered"]) == [1, 2, 4]
    assert source.settled["dead_lettered"] == [3]
    assert [3] in transport.batches


def test_events_the_source_calls_expired_are_dead_lettered_and_the_rest_retried() -> None:
    failures = iter([RetryableError("down")])

    def script(numbers: list[int]) -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    source = FakeSource([1, 2, 3], old=[2])
    lane = lane_of([source], ScriptedTransport(script), max_age=60.0)
    settle_all(lane)
    assert source.settled["dead_lettered"] == [2]
    assert source.messages == ["expired: down"]
    assert source.settled["delivered"] == [1, 3]


def test_retries_give_up_into_dead_letters_after_max_attempts() -> None:
    def script(numbers: list[int]) -> None:
        raise RetryableError("503 busy")

    source = FakeSource([7])
    transport = ScriptedTransport(script)
    retry = RetryPolicy(backoff_initial=0.01, backoff_max=0.01, max_attempts=3)
    lane = lane_of([source], transport, retry=retry)
    settle_all(lane)
    assert len(transport.batches) == 3
    assert source.settled["dead_lettered"] == [7]
    _, stats = lane.snapshot()
    assert (stats.retried, stats.dead_lettered) == (2, 1)


def test_a_close_while_backing_off_releases_the_batch_to_its_source() -> None:
    def script(numbers: list[int]) -> None:
        raise RetryableError("down", retry_after=60.0)  # a wait longer than the close

    source = FakeSource([1, 2])
    transport = ScriptedTransport(script)
    retry = RetryPolicy(backoff_initial=60.0, backoff_max=60.0, retry_after_max=60.0)
    lane = lane_of([source], transport, retry=retry)
    lane.start()
    deadline = time.monotonic() + 10.0
    while not transport.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert lane.close(time.monotonic() + 0.3) == (0, 2)  # the source kept both
    assert time.monotonic() - started < 2.0
    assert source.settled["released"] == [1, 2]
    assert not source.settled["delivered"]


def test_a_flush_with_a_deadline_retries_without_the_backoff() -> None:
    failures = iter([RetryableError("down"), RetryableError("still down")])

    def script(numbers: list[int]) -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    source = FakeSource([1])
    transport = ScriptedTransport(script)
    retry = RetryPolicy(backoff_initial=30.0, backoff_max=30.0, jitter=False)
    lane = lane_of([source], transport, retry=retry)
    started = time.monotonic()
    assert lane.flush(time.monotonic() + 5.0) == 0
    assert time.monotonic() - started < 3.0  # not the 30 s, then 60 s backoff
    assert source.settled["delivered"] == [1]
    lane.close(time.monotonic() + 1.0)


def test_an_unexpected_failure_after_sending_gives_the_batch_back_as_maybe_delivered() -> None:
    class FailingOnce(FakeSource):
        failed = False

        def delivered(self, items: Sequence[int]) -> int:
            if not self.failed:
                self.failed = True
                raise OSError("the ledger broke")
            return super().delivered(items)

    source = FailingOnce([1, 2])
    lane = lane_of([source], ScriptedTransport())
    settle_all(lane, within=5.0)
    assert source.settled["maybe_delivered"] == [1, 2]
    assert source.settled["delivered"] == [1, 2]


def test_a_transport_bug_is_retried_like_a_retryable_error() -> None:
    calls = iter([ValueError("bug")])

    def script(numbers: list[int]) -> None:
        error = next(calls, None)
        if error is not None:
            raise error

    source = FakeSource([1])
    lane = lane_of([source], ScriptedTransport(script))
    settle_all(lane)
    _, stats = lane.snapshot()
    assert (stats.delivered, stats.retried) == (1, 1)
    assert stats.last_error is not None and "ValueError: bug" in stats.last_error


def test_flush_waits_for_the_settle_instead_of_polling() -> None:
    go = threading.Event()

    def script(numbers: list[int]) -> None:
        go.wait(5.0)

    source = FakeSource([1])
    lane = lane_of([source], ScriptedTransport(script))
    timer = threading.Timer(0.6, go.set)
    timer.start()
    try:
        started = time.monotonic()
        assert lane.flush(time.monotonic() + 5.0) == 0
        took = time.monotonic() - started
    finally:
        timer.cancel()
    assert 0.5 < took < 2.0
    # Polling every 10 ms would have asked ~60 times; a wait on the settle
    # condition asks once per wake-up (its timeout is a long fallback).
    assert source.pending_calls < 10, source.pending_calls
    lane.close(time.monotonic() + 1.0)


@pytest.mark.parametrize(
    ("error", "settled_as"),
    [(PermanentError("400 bad"), "dead_lettered"), (DeliveryError("odd"), "delivered")],
)
def test_permanent_errors_dead_letter_and_other_delivery_errors_retry(
    error: Exception, settled_as: str
) -> None:
    calls = iter([error])

    def script(numbers: list[int]) -> None:
        raised = next(calls, None)
        if raised is not None:
            raise raised

    source = FakeSource([1])
    lane = lane_of([source], ScriptedTransport(script))
    settle_all(lane)
    assert source.settled[settled_as] == [1]
    assert sum(map(len, source.settled.values())) == 1
