"""Background and durable delivery: queues, batching, retries, spool, dead letters."""

from .lane import in_delivery_thread
from .options import DeliveryOptions, Mode, Overflow
from .pipeline import Pipeline
from .retry import RetryPolicy
from .spool import DeadLetter
from .stats import DestinationStats, Stats

__all__ = [
    "DeadLetter",
    "DeliveryOptions",
    "DestinationStats",
    "Mode",
    "Overflow",
    "Pipeline",
    "RetryPolicy",
    "Stats",
    "in_delivery_thread",
]
