"""Background and durable delivery: queues, batching, retries, spool, dead letters."""

from .options import DeliveryOptions, Mode, Overflow
from .pipeline import Pipeline
from .retry import RetryPolicy
from .spool import DeadLetter
from .stats import Stats

__all__ = ["DeadLetter", "DeliveryOptions", "Mode", "Overflow", "Pipeline", "RetryPolicy", "Stats"]
