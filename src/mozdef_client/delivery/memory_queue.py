"""The bounded in-memory queue in front of one destination's worker."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from ..transports.base import EncodedEvent
from .stats import Counters

__all__ = ["MemoryQueue"]


class MemoryQueue:
    """A bounded FIFO of encoded events with an overflow policy.

    ``put`` is the caller's hot path: an append and a length check, no lock,
    since ``deque.append``/``popleft`` are atomic. The bound may be passed by
    a few events when many threads race at the limit; it never grows beyond.
    """

    def __init__(
        self,
        *,
        max_events: int,
        overflow: str,
        block_timeout: float,
        wake_at: int,
        counters: Counters,
        spill: Callable[[EncodedEvent], bool] | None = None,
    ) -> None:
        self._items: collections.deque[EncodedEvent] = collections.deque()
        self._max = max_events
        self._overflow = overflow
        self._block_timeout = block_timeout
        self._wake_at = wake_at
        self._counters = counters
        self._spill = spill
        self.wake = threading.Event()
        self._room = threading.Condition(threading.Lock())

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: EncodedEvent) -> bool:
        """Queue ``event``; False when the overflow policy dropped it (counted)."""
        items = self._items
        if len(items) < self._max:
            items.append(event)
            if len(items) >= self._wake_at and not self.wake.is_set():
                self.wake.set()
            return True
        return self._overflowing(event)

    def _overflowing(self, event: EncodedEvent) -> bool:
        self.wake.set()
        if self._overflow == "drop_newest":
            self._counters.drop("queue_full")
            return False
        if self._overflow == "drop_oldest":
            try:
                self._items.popleft()
                self._counters.drop("queue_full")
            except IndexError:
                pass
            self._items.append(event)
            return True
        if self._overflow == "spill" and self._spill is not None:
            return self._spill(event)
        deadline = time.monotonic() + self._block_timeout
        with self._room:
            while len(self._items) >= self._max:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._counters.drop("queue_full")
                    return False
                self._room.wait(remaining)
            self._items.append(event)
            return True

    def take(self, max_events: int, max_bytes: int) -> list[EncodedEvent]:
        """Remove and return the oldest events, up to the limits (at least one)."""
        batch: list[EncodedEvent] = []
        size = 0
        items = self._items
        while items and len(batch) < max_events:
            event = items[0]
            if batch and size + len(event.payload) > max_bytes:
                break
            batch.append(items.popleft())
            size += len(event.payload)
        if batch and self._overflow == "block":
            with self._room:
                self._room.notify_all()
        return batch

    def put_back(self, events: list[EncodedEvent]) -> None:
        """Return events to the front of the queue, oldest first, ignoring the bound."""
        self._items.extendleft(reversed(events))

    def clear(self) -> int:
        """Empty the queue; returns how many events it held."""
        count = 0
        while self._items:
            try:
                self._items.popleft()
            except IndexError:
                break
            count += 1
        return count

    def reset_after_fork(self) -> None:
        # The parent delivers what it queued; the child starts empty, with
        # fresh locks (a lock held at fork time would never be released here).
        self._items = collections.deque()
        self.wake = threading.Event()
        self._room = threading.Condition(threading.Lock())
