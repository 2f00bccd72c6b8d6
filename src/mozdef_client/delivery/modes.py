"""One delivery interface for every mode, and the choice of its implementation.

The client hands each encoded event to a :class:`Delivery` and never asks
which mode it is in: sync mode's :class:`~.sync.SyncDelivery` delivers in
``submit``; the background and durable modes' :class:`~.pipeline.Pipeline`
queues (in memory or in the store) for the lanes' worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..transports.base import EncodedEvent, Transport
from .dead_letters import DeadLetter
from .options import DeliveryOptions, Mode
from .pipeline import Pipeline
from .stats import Stats
from .sync import SyncDelivery

__all__ = ["Delivery", "open_delivery"]


class Delivery(Protocol):
    """What a client does with its events, whatever the mode."""

    def submit(self, event: EncodedEvent) -> bool:
        """Hand over ``event``; False when a queue dropped it (counted)."""
        ...

    def flush(self, timeout: float | None) -> int:
        """Wait until what was handed over is settled; returns how many remain."""
        ...

    def close(self, timeout: float | None) -> int:
        """Deliver what can be within ``timeout``, then stop; returns how many were left."""
        ...

    def stats(self) -> Stats: ...

    def dead_letters(self) -> list[DeadLetter]: ...

    def replay_dead_letters(self) -> int: ...


def open_delivery(
    mode: Mode,
    transports: Sequence[Transport],
    *,
    options: DeliveryOptions | None,
    spool_dir: str | None,
) -> Delivery:
    """The delivery of a client in ``mode`` (the only place that looks at the mode)."""
    if mode == "sync":
        return SyncDelivery(transports)
    return Pipeline(
        transports,
        durable=mode == "durable",
        options=options or DeliveryOptions(),
        spool_dir=spool_dir,
    )
