"""One destination's lane: its worker thread, its batches, its retries.

Each destination of a client has a lane of its own, so a dead destination
holds back nobody else. The worker takes a batch from its sources (memory
first, then the store: see :mod:`.source`), hands it to the transport,
classifies the answer, and settles each event exactly once through the
source it came from: delivered, dead-lettered, dropped, or released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..errors import (
    DeliveryError,
    DroppedError,
    EventTooLargeError,
    PermanentError,
    RetryableError,
    SpoolError,
)
from ..transports.base import PartialDeliveryError, Transport
from .options import DeliveryOptions
from .pacing import Pacer
from .source import ItemT, Source
from .stats import Counters, DestinationStats
from .threads import start_worker

__all__ = ["Lane"]

logger = logging.getLogger("mozdef_client.delivery")


class Lane:
    """The sources-to-transport path of one destination."""

    def __init__(
        self,
        transport: Transport,
        options: DeliveryOptions,
        counters: Counters,
        sources: Sequence[Source[Any]],
    ) -> None:
        self.transport = transport
        self.name = transport.name
        self._options = options
        self.counters = counters  # this destination's own
        self._sources = list(sources)  # read in this order: memory first
        self._reset()

    def _reset(self) -> None:
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._wake = threading.Event()  # work is waiting (a full batch, a flush)
        for source in self._sources:
            source.wake_with(self._wake)
        self._stop = threading.Event()
        self._pacer = Pacer(self._stop)
        # Held while an event is counted and stops being pending, and while
        # stats are read: a snapshot never sees an event as both or neither.
        # Notified at each settle: that is what a flush waits for.
        self._settled = threading.Condition(threading.Lock())

    def reset_after_fork(self) -> None:
        for source in self._sources:
            source.reset_after_fork()
        self.counters.reset_after_fork()
        self._reset()

    # -- the caller's side -------------------------------------------------

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = start_worker(self.name, self._run)

    def wake(self) -> None:
        self._wake.set()

    def pending(self) -> tuple[int, int]:
        """(events waiting in memory or in flight from it, events waiting in the store)."""
        in_memory = in_store = 0
        for source in self._sources:
            memory, store = source.pending()
            in_memory += memory
            in_store += store
        return in_memory, in_store

    def snapshot(self) -> tuple[int, DestinationStats]:
        """This destination's stats, and when its last error happened."""
        with self._settled:
            return self.counters.stamped_snapshot(*self.pending())

    def flush(self, deadline: float, hurry: bool = True) -> int:
        """Wait until everything queued is settled or ``deadline``; returns what is left.

        ``hurry``: retry without backoff meanwhile (a flush or close with a
        real deadline), so the remaining attempts happen before it.
        """
        if hurry:
            self.hurry(deadline)
        try:
            with self._settled:
                while True:
                    left = sum(self.pending())
                    remaining = deadline - time.monotonic()
                    if left == 0 or remaining <= 0 or self._stop.is_set():
                        return left
                    self.start()
                    self._wake.set()  # a partial batch goes now, not at flush_interval
                    # Woken by each settle; the timeout covers what no settle
                    # announces (another lane of the same name, another process).
                    self._settled.wait(min(remaining, 0.25))
        finally:
            if hurry:
                self._pacer.relax(deadline)

    def hurry(self, deadline: float) -> None:
        """Until ``deadline``, retry at once instead of backing off (see :mod:`.pacing`)."""
        self._pacer.hurry(deadline)
        self._wake.set()

    def close(self, deadline: float) -> tuple[int, int]:
        """Deliver what can be delivered by ``deadline``, then stop.

        Returns what is left: (events lost from memory, counted as dropped
        ``closed``; events kept in the store for the next start).
        """
        self.flush(deadline)
        self._stop.set()
        self._pacer.wake()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.1)
        lost = kept = 0
        for source in self._sources:  # memory first: what it holds may go to the store
            source_lost, source_kept = source.close()
            lost += source_lost
            kept += source_kept
        self.transport.close()
        return lost, kept

    # -- the worker --------------------------------------------------------

    def _run(self) -> None:
        options = self._options
        while not self._stop.is_set():
            for source in self._sources:
                items: list[Any] = []
                try:
                    items = source.take(options.max_batch_events, options.max_batch_bytes)
                    if items:
                        self._deliver(source, items)
                        break
                except SpoolError:  # the store said so (once per outage)
                    self._stop.wait(1.0)
                    break
                except Exception:
                    # The worker must never die: log, breathe, go on.
                    logger.exception("mozdef_client delivery worker for %s failed", self.name)
                    self._give_back(source, items)
                    self._stop.wait(1.0)
                    break
            else:
                self._wake.wait(options.flush_interval)
                self._wake.clear()

    def _deliver(self, source: Source[ItemT], items: list[ItemT]) -> None:
        attempts = 0
        while items:
            attempts += 1
            try:
                self.transport.send(source.events(items))
            except PartialDeliveryError as exc:
                failed = exc.failures
                self._delivered(source, [it for i, it in enumerate(items) if i not in failed])
                for index, error in sorted(failed.items()):
                    if not isinstance(error, RetryableError):
                        self._dead_letter(source, [items[index]], error)
                retry = [
                    items[i] for i, e in sorted(failed.items()) if isinstance(e, RetryableError)
                ]
                if not retry:
                    return
                items = retry
                last: DeliveryError = next(
                    e for e in failed.values() if isinstance(e, RetryableError)
                )
            except DroppedError as exc:  # the transport chose to drop, not to fail
                with self._settled:
                    self.counters.drop(exc.reason, len(items))
                    self.counters.error(str(exc))
                    source.dropped(items)
                    self._settled.notify_all()
                return
            except EventTooLargeError as exc:
                if len(items) > 1:
                    middle = len(items) // 2
                    self._deliver(source, items[:middle])
                    self._deliver(source, items[middle:])
                else:
                    self._dead_letter(source, items, exc)
                return
            except PermanentError as exc:
                self._dead_letter(source, items, exc)
                return
            except DeliveryError as exc:
                last = exc if isinstance(exc, RetryableError) else RetryableError(str(exc))
            except Exception as exc:  # a transport bug must not kill the lane
                logger.exception("transport %s raised unexpectedly", self.name)
                last = RetryableError(f"{type(exc).__name__}: {exc}", destination=self.name)
            else:
                self._delivered(source, items)
                return
            items = self._retry_or_settle(source, items, last, attempts)

    def _retry_or_settle(
        self, source: Source[ItemT], items: list[ItemT], error: DeliveryError, attempts: int
    ) -> list[ItemT]:
        """Wait before the next try; return what is still to send (nothing to give up)."""
        self.counters.error(str(error))
        if self._options.max_age is not None:
            expired, items = source.expired(items, self._options.max_age)
            if expired:
                self._dead_letter(source, expired, error, reason="expired")
        if not items:
            return []
        policy = self._options.retry
        if not policy.should_retry(error, attempts):
            self._dead_letter(source, items, error)
            return []
        self.counters.add("retried", len(items))
        asked = getattr(error, "retry_after", None) is not None
        if self._pacer.sleep(policy.delay(error, attempts), asked):
            # The client closed while these were still undelivered.
            self._release(source, items, maybe_delivered=False)
            return []
        return items

    # -- settling: count here, settle at the source, wake who waits -------

    def _delivered(self, source: Source[ItemT], items: Sequence[ItemT]) -> None:
        if not items:
            return
        with self._settled:
            self.counters.add("delivered", len(items))
            duplicates = source.delivered(items)
            if duplicates:
                self.counters.add("duplicates", duplicates)
            self._settled.notify_all()

    def _dead_letter(
        self, source: Source[ItemT], items: Sequence[ItemT], error: DeliveryError, reason: str = ""
    ) -> None:
        message = f"{reason}: {error}" if reason else str(error)
        with self._settled:
            self.counters.add("dead_lettered", len(items))
            self.counters.error(message)
            source.dead_lettered(items, message)
            self._settled.notify_all()
        logger.warning("%d events to %s dead-lettered: %s", len(items), self.name, message)

    def _release(
        self, source: Source[ItemT], items: Sequence[ItemT], *, maybe_delivered: bool
    ) -> None:
        with self._settled:
            source.released(items, maybe_delivered=maybe_delivered)
            self._settled.notify_all()

    def _give_back(self, source: Source[ItemT], items: Sequence[ItemT]) -> None:
        """After an unexpected failure: return a batch to where it came from.

        Whether it arrived is unknown (the failure may have come after
        delivery): a later delivery counts as a possible duplicate.
        """
        try:
            self._release(source, items, maybe_delivered=True)
        except Exception:
            logger.exception("mozdef_client could not return a batch for %s", self.name)
