"""Background mode's source: one destination's bounded memory queue.

Events wait in a :class:`~.memory_queue.MemoryQueue`; a batch the lane took
is "in flight" until settled, and counts as pending meanwhile, so a flush
never returns while a batch is on its way. When the queue overflows with the
``spill`` policy, or when the client closes with events still here, they go
to the store if there is one, else they are dropped (counted by reason).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ..errors import SpoolError, SpoolFullError
from ..transports.base import EncodedEvent
from .dead_letters import DeadLetterSink
from .memory_queue import MemoryQueue
from .options import DeliveryOptions
from .stats import Counters
from .store_source import Store

__all__ = ["MemorySource", "drop_reason"]

logger = logging.getLogger("mozdef_client.delivery")


class MemorySource:
    """The memory queue of destination ``name``, as a lane's source."""

    def __init__(
        self,
        name: str,
        options: DeliveryOptions,
        counters: Counters,
        dead_letters: DeadLetterSink,
        store: Store | None,
    ) -> None:
        self.name = name
        self._counters = counters
        self._dead_letters = dead_letters
        self._store = store
        self.queue = MemoryQueue(
            max_events=options.max_queue_events,
            overflow=options.overflow,
            block_timeout=options.block_timeout,
            wake_at=options.max_batch_events,
            counters=counters,
            spill=self._spill if store is not None else None,
        )
        # The caller's hot path: the queue's own put, without a call in between.
        self.put: Callable[[EncodedEvent], bool] = self.queue.put
        self._reset()

    def _reset(self) -> None:
        # Taking and counting happen under this lock, so pending() never
        # misses a batch on its way from the queue to the transport.
        self._taking = threading.Lock()
        self._in_flight = 0
        self._closed = False

    # -- the Source protocol -----------------------------------------------

    def take(self, max_events: int, max_bytes: int) -> list[EncodedEvent]:
        if not len(self.queue):
            return []
        with self._taking:
            batch = self.queue.take(max_events, max_bytes)
            self._in_flight += len(batch)
        return batch

    def events(self, items: Sequence[EncodedEvent]) -> list[EncodedEvent]:
        return items if isinstance(items, list) else list(items)

    def delivered(self, items: Sequence[EncodedEvent]) -> int:
        self._settled(len(items))
        return 0

    def dead_lettered(self, items: Sequence[EncodedEvent], message: str) -> None:
        self._dead_letters.add(self.name, list(items), message)
        self._settled(len(items))

    def dropped(self, items: Sequence[EncodedEvent]) -> None:
        self._settled(len(items))

    def released(self, items: Sequence[EncodedEvent], *, maybe_delivered: bool) -> None:
        with self._taking:
            self._in_flight = max(0, self._in_flight - len(items))
            if not self._closed:
                # Back to the front, oldest first; a close spills or drops them.
                self.queue.put_back(list(items))
                return
        # The close has come and gone (a batch stuck past its deadline).
        self._keep_or_drop(list(items))

    def expired(
        self, items: list[EncodedEvent], max_age: float
    ) -> tuple[list[EncodedEvent], list[EncodedEvent]]:
        return [], items  # max_age is the store's: memory lives no longer than the process

    def pending(self) -> tuple[int, int]:
        with self._taking:
            return len(self.queue) + self._in_flight, 0

    def wake_with(self, wake: threading.Event) -> None:
        self.queue.wake = wake

    def close(self) -> tuple[int, int]:
        with self._taking:
            self._closed = True
            left = self.queue.take(len(self.queue) + 1, 1 << 62)
            # A batch still in flight (a transport stuck past the deadline) is
            # lost for this close; the worker settles it when it returns.
            stuck = self._in_flight
        return stuck + self._keep_or_drop(left), 0

    def reset_after_fork(self) -> None:
        self.queue.reset_after_fork()
        self._reset()

    # -- spilling into the store -------------------------------------------

    def _spill(self, event: EncodedEvent) -> bool:
        """The ``spill`` overflow policy: the event goes to the store instead."""
        assert self._store is not None
        try:
            self._store.append([self.name], [event])
        except SpoolError as exc:
            self._counters.drop(drop_reason(exc))
            return False
        return True

    def _keep_or_drop(self, events: list[EncodedEvent]) -> int:
        """Move events to the store, if there is one; returns how many were
        dropped instead (counted as ``closed``)."""
        if not events:
            return 0
        if self._store is not None:
            try:
                self._store.append([self.name], events)
                return 0
            except SpoolError as exc:
                logger.warning("cannot keep %d events for %s in the spool: %s",
                               len(events), self.name, exc)  # fmt: skip
        self._counters.drop("closed", len(events))
        return len(events)

    def _settled(self, count: int) -> None:
        with self._taking:
            self._in_flight = max(0, self._in_flight - count)


def drop_reason(exc: SpoolError) -> str:
    """The reason an event the store refused is counted as dropped under."""
    return "spool_full" if isinstance(exc, SpoolFullError) else "spool_error"
