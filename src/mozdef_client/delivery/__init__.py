"""Delivery: one interface for every mode; queues, batching, retries, spool, dead letters.

``modes.open_delivery`` picks a :class:`~.sync.SyncDelivery` (sync) or a
:class:`~.pipeline.Pipeline` (background, durable). A pipeline has a
:class:`~.lane.Lane` per destination, reading batches from its sources
(:mod:`.source`: memory queue, store).
"""

from .modes import Delivery, open_delivery
from .options import DeliveryOptions, Mode, Overflow
from .pipeline import Pipeline
from .retry import RetryPolicy
from .spool import DeadLetter
from .stats import DestinationStats, Stats
from .sync import SyncDelivery
from .threads import in_delivery_thread

__all__ = [
    "DeadLetter",
    "Delivery",
    "DeliveryOptions",
    "DestinationStats",
    "Mode",
    "Overflow",
    "Pipeline",
    "RetryPolicy",
    "Stats",
    "SyncDelivery",
    "in_delivery_thread",
    "open_delivery",
]
