"""Sync mode's delivery: every destination is tried in ``send()``, failures raise.

No queue and no worker: :meth:`SyncDelivery.submit` hands the event to each
destination in turn and raises what they raised, after trying them all. It
offers the same interface as the background and durable pipeline, so the
client holds one delivery object whatever its mode.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DeliveryError, DroppedError
from ..transports.base import EncodedEvent, Transport
from .dead_letters import DeadLetter
from .stats import Counters, Stats, summarize

__all__ = ["SyncDelivery"]


class SyncDelivery:
    """Delivers each event now, to every destination; counts per destination."""

    def __init__(self, transports: Sequence[Transport]) -> None:
        self._transports = list(transports)
        self._counters = Counters()  # submitted; each destination counts the rest
        self._destination_counters = [Counters() for _ in self._transports]

    def submit(self, event: EncodedEvent) -> bool:
        """Deliver ``event`` to every destination (each is tried even when one fails).

        Raises:
            DeliveryError: the one destination's error, or one error naming
                every destination that failed.
        """
        self._counters.add_submitted()
        errors: list[DeliveryError] = []
        for transport, counters in zip(self._transports, self._destination_counters, strict=True):
            try:
                transport.send([event])
            except DroppedError as exc:  # the transport chose to drop, not to fail
                counters.drop(exc.reason)
                counters.error(str(exc))
            except DeliveryError as exc:
                errors.append(exc)
                counters.error(str(exc))
            else:
                counters.add("delivered")
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise DeliveryError(
                f"{len(errors)} destinations failed: " + "; ".join(str(e) for e in errors)
            ) from errors[0]
        return True

    def flush(self, timeout: float | None) -> int:
        return 0  # nothing ever waits

    def close(self, timeout: float | None) -> int:
        for transport in self._transports:
            transport.close()
        return 0

    def stats(self) -> Stats:
        pairs = zip(self._transports, self._destination_counters, strict=True)
        return summarize(self._counters, [(t.name, c.stamped_snapshot(0, 0)) for t, c in pairs])

    def dead_letters(self) -> list[DeadLetter]:
        return []  # a refusal is raised to the caller, never kept

    def replay_dead_letters(self) -> int:
        return 0
