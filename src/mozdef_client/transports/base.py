"""What every transport is: one wire, no queues, no retries.

A transport takes a batch of encoded events and either returns (the
destination acknowledged all of them) or raises a :class:`RetryableError`
or :class:`PermanentError`. Foreign exceptions are translated here, at the
boundary, and chained with ``from``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

# PartialDeliveryError lives in errors.py; imported from here since 2.0.
from ..errors import PartialDeliveryError
from ..severity import Severity

__all__ = ["EncodedEvent", "PartialDeliveryError", "Transport"]


class EncodedEvent(NamedTuple):
    """One event ready for the wire: its JSON bytes and what transports need besides.

    ``severity`` lets syslog transports pick the priority without decoding.
    A named tuple: one is made per ``send()``, and a tuple is the cheapest
    immutable record.
    """

    payload: bytes
    severity: Severity = Severity.INFO


@runtime_checkable
class Transport(Protocol):
    """One destination's wire."""

    #: Where events go, for messages and stats; never holds credentials.
    name: str

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        """Deliver ``batch``; return only once the destination acknowledged it.

        Raises:
            RetryableError: nothing, or not everything, was acknowledged; may pass.
            PermanentError: the destination refused; retrying the same batch fails again.
            PartialDeliveryError: some events were acknowledged and some not.
        """

    def close(self) -> None:
        """Release connections; the transport may be used again afterwards."""
