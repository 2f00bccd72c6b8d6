"""Where a lane's batches come from, and where their events go once settled.

A lane (:mod:`.lane`) knows how to send a batch and judge the answer; a
:class:`Source` knows where the batch came from and what settling each event
means there. The split follows python-logstash-async's worker and cache:

- :class:`~.memory_source.MemorySource`: the bounded queue of background
  mode. Settling frees the in-flight count; dead letters go to the dead
  letter sink; at close, what is left spills into the store or is dropped.
- :class:`~.store_source.StoreSource`: the on-disk store (durable mode, and
  what background mode spilled). Batches are leased; settling acknowledges,
  dead-letters or releases them in the store, owing the update while the
  store cannot take it (a full disk).

A lane reads its sources in order (memory first) and calls exactly one
settle method per event taken. Settle methods run under the lane's settle
lock, so a stats snapshot never sees an event both counted and pending.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, TypeVar

from ..transports.base import EncodedEvent

__all__ = ["ItemT", "Source"]

#: What a source hands out: an ``EncodedEvent`` from memory, a ``SpooledEvent``
#: (a lease) from the store. The lane never looks inside; it asks the source.
ItemT = TypeVar("ItemT")


class Source(Protocol[ItemT]):
    """A supply of batches for one destination, and the ledger of their fate."""

    def take(self, max_events: int, max_bytes: int) -> list[ItemT]:
        """The next batch (possibly empty); its events are now in flight.

        Raises:
            SpoolError: the store cannot be read or updated (it said so once).
        """
        ...

    def events(self, items: Sequence[ItemT]) -> list[EncodedEvent]:
        """What goes on the wire for ``items``."""
        ...

    def delivered(self, items: Sequence[ItemT]) -> int:
        """The destination acknowledged ``items``; returns how many of them may
        have arrived before (a delivery after a crash: counted as duplicates)."""
        ...

    def dead_lettered(self, items: Sequence[ItemT], message: str) -> None:
        """The destination refused ``items`` for good: keep them as dead letters."""
        ...

    def dropped(self, items: Sequence[ItemT]) -> None:
        """The transport chose to drop ``items`` (settled, kept nowhere)."""
        ...

    def released(self, items: Sequence[ItemT], *, maybe_delivered: bool) -> None:
        """Not settled by this lane now: hand ``items`` back for a later try.

        ``maybe_delivered``: an unexpected failure may have come after they
        arrived, so a later delivery counts as a possible duplicate.
        """
        ...

    def expired(self, items: list[ItemT], max_age: float) -> tuple[list[ItemT], list[ItemT]]:
        """Split ``items`` into (older than ``max_age`` seconds, the rest)."""
        ...

    def pending(self) -> tuple[int, int]:
        """Events waiting here, settled or not yet: (in memory, in the store)."""
        ...

    def wake_with(self, wake: threading.Event) -> None:
        """Set ``wake`` whenever a full batch is ready (the lane waits on it)."""
        ...

    def close(self) -> tuple[int, int]:
        """The lane stopped: settle what is left; returns (lost, kept in the store).

        Called once the worker stopped or gave up waiting for a stuck batch:
        a batch released after this is settled as the close would have.
        """
        ...

    def reset_after_fork(self) -> None:
        """A forked child starts with nothing of the parent's in flight."""
        ...
