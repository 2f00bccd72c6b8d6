"""The store's side of a lane: leased batches, acknowledged or released.

The store (:class:`~.spool.Spool`) is shared by a client's destinations; a
:class:`StoreSource` is one destination's view of it. It talks to the store
only through :class:`Store`, the interface any durable store offers, so
another store plugs in without touching the lane.

When the store cannot take an update (a full disk), the update is owed: the
events stay leased by this process, so nobody sends them again, and the
updates are applied, in order, before the next lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ..errors import SpoolError
from ..transports.base import EncodedEvent
from .spool import SpooledEvent
from .stats import Counters

__all__ = ["Store", "StoreSource"]

logger = logging.getLogger("mozdef_client.delivery")


class Store(Protocol):
    """What the delivery pipeline needs of a durable store (the spool's public face).

    Every method may raise ``SpoolError`` (``SpoolFullError`` for a full disk
    or the byte cap); nothing is half-done when it does.
    """

    path: str

    def append(self, destinations: Sequence[str], events: Sequence[EncodedEvent]) -> None: ...

    def lease(self, destination: str, max_events: int, max_bytes: int) -> list[SpooledEvent]: ...

    def ack(self, items: Iterable[SpooledEvent], destination: str | None = None) -> None: ...

    def release(self, items: Iterable[SpooledEvent], *, maybe_delivered: bool = False) -> None: ...

    def dead_letter(self, destination: str, items: Sequence[SpooledEvent], error: str) -> None: ...

    def pending(self, destination: str | None = None) -> int: ...


class StoreSource:
    """Destination ``name``'s events in the store, as a lane's source."""

    def __init__(self, name: str, store: Store, counters: Counters) -> None:
        self.name = name
        self._store = store
        self._counters = counters
        self._reset()

    def _reset(self) -> None:
        self._owed: list[Callable[[], None]] = []
        self._failing = False
        self._kept_at_close: int | None = None  # the store closes with the client

    # -- the Source protocol -----------------------------------------------

    def take(self, max_events: int, max_bytes: int) -> list[SpooledEvent]:
        try:
            self._pay_debts()
            leased = self._store.lease(self.name, max_events, max_bytes)
        except SpoolError as exc:
            self._trouble(exc)
            raise
        if self._failing:
            self._failing = False
            logger.warning("the spool %s works again", self._store.path)
        return leased

    def events(self, items: Sequence[SpooledEvent]) -> list[EncodedEvent]:
        return [item.event for item in items]

    def delivered(self, items: Sequence[SpooledEvent]) -> int:
        self._update(lambda: self._store.ack(items, self.name))
        return sum(1 for item in items if item.maybe_duplicate)

    def dead_lettered(self, items: Sequence[SpooledEvent], message: str) -> None:
        self._update(lambda: self._store.dead_letter(self.name, items, message))

    def dropped(self, items: Sequence[SpooledEvent]) -> None:
        self._update(lambda: self._store.ack(items, self.name))

    def released(self, items: Sequence[SpooledEvent], *, maybe_delivered: bool) -> None:
        if items:
            self._update(lambda: self._store.release(items, maybe_delivered=maybe_delivered))

    def expired(
        self, items: list[SpooledEvent], max_age: float
    ) -> tuple[list[SpooledEvent], list[SpooledEvent]]:
        cutoff = time.time() - max_age
        return ([item for item in items if item.created < cutoff],
                [item for item in items if item.created >= cutoff])  # fmt: skip

    def pending(self) -> tuple[int, int]:
        # In-flight events are still in the store until acknowledged.
        if self._kept_at_close is not None:
            return 0, self._kept_at_close
        return 0, self._store.pending(self.name)

    def wake_with(self, wake: object) -> None:
        pass  # a durable send wakes the lane itself, once per batch

    def close(self) -> tuple[int, int]:
        if self._owed:
            try:
                self._pay_debts()
            except SpoolError as exc:
                # The events stay leased by this process; the next start sends
                # them again, counted as possible duplicates.
                logger.warning("the spool %s could not be updated at close: %s",
                               self._store.path, exc)  # fmt: skip
        self._kept_at_close = self._store.pending(self.name)
        return 0, self._kept_at_close

    def reset_after_fork(self) -> None:
        self._reset()  # the store resets itself (the pipeline resets it once)

    # -- updates owed while the store cannot take them ---------------------

    def _pay_debts(self) -> None:
        """Apply the updates owed; raises SpoolError while the store still cannot."""
        while self._owed:
            self._owed[0]()
            self._owed.pop(0)

    def _update(self, update: Callable[[], None]) -> None:
        """Run a store update now or, if the store cannot take it, before the next lease."""
        try:
            update()
        except SpoolError as exc:
            self._trouble(exc)
            self._owed.append(update)

    def _trouble(self, exc: SpoolError) -> None:
        # Once per outage, not once a second: a full disk lasts.
        if not self._failing:
            self._failing = True
            logger.warning("delivery to %s is waiting for the spool: %s", self.name, exc)
        self._counters.error(str(exc))
