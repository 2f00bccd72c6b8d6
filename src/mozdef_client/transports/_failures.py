"""Turning per-event failures of a batch into the one error a transport raises."""

from __future__ import annotations

from ..errors import DeliveryError
from .base import PartialDeliveryError

__all__ = ["batch_error"]


def batch_error(failures: dict[int, DeliveryError], size: int, destination: str) -> DeliveryError:
    """The error for a batch of ``size`` events where ``failures`` were not delivered.

    When every event failed the same way, that error itself (so a one-event
    batch raises a plain :class:`RetryableError` or :class:`PermanentError`);
    otherwise a :class:`PartialDeliveryError` naming each failed event.
    """
    first = failures[min(failures)]
    if len(failures) == size and all(type(e) is type(first) for e in failures.values()):
        return first
    return PartialDeliveryError(
        f"{len(failures)} of {size} events were not delivered to {destination}: {first}",
        destination=destination,
        failures=failures,
    )
