"""One destination's lane: its worker thread, its batches, its retries.

Each destination of a client has a lane of its own, so a dead destination
holds back nobody else. A lane takes batches from its memory queue and/or
the spool, hands them to the transport, and settles each event exactly
once: delivered (acknowledged), retried later, dead-lettered, or, when the
client closes before it could be delivered, released to the spool or counted
as dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import (
    DeliveryError,
    DroppedError,
    EventTooLargeError,
    PermanentError,
    RetryableError,
    SpoolError,
)
from ..transports.base import EncodedEvent, PartialDeliveryError, Transport
from .dead_letters import DeadLetterSink
from .memory_queue import MemoryQueue
from .options import DeliveryOptions
from .spool import Spool
from .stats import Counters, DestinationStats

__all__ = ["THREAD_NAME_PREFIX", "Lane", "in_delivery_thread"]

logger = logging.getLogger("mozdef_client.delivery")

Item = Any  # EncodedEvent from memory, SpooledEvent from the spool

#: The start of every worker thread's name ("mozdef-delivery https://...").
THREAD_NAME_PREFIX = "mozdef-delivery"

#: While a flush or close with a deadline waits, retries come this often
#: instead of after the backoff: the last tries must fit in the deadline, or a
#: short outage that has already ended would lose every queued event at exit.
HURRY_INTERVAL = 0.05

# Set on each worker thread: what is logged there must never be sent as an
# event (a failing destination's logging would feed events about itself).
_worker = threading.local()


def in_delivery_thread(thread_name: str | None = None) -> bool:
    """Whether the calling thread is a delivery worker.

    With ``thread_name`` (a log record's ``threadName``, for records handled
    on another thread than the one that logged them): whether that names one.
    """
    if getattr(_worker, "active", False):
        return True
    return thread_name is not None and thread_name.startswith(THREAD_NAME_PREFIX)


class Lane:
    """The queue-to-transport path of one destination."""

    def __init__(
        self,
        transport: Transport,
        options: DeliveryOptions,
        counters: Counters,
        dead_letters: DeadLetterSink,
        *,
        memory: MemoryQueue | None,
        spool: Spool | None,
    ) -> None:
        self.transport = transport
        self.name = transport.name
        self._options = options
        self.counters = counters  # this destination's own
        self._dead_letters = dead_letters
        self.memory = memory
        self._spool = spool
        self._reset()

    def _reset(self) -> None:
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._wake = self.memory.wake if self.memory is not None else threading.Event()
        self._closing = threading.Event()
        self._stop = threading.Event()
        # Set to wake a worker sleeping out a backoff (a flush or close began).
        self._nudge = threading.Event()
        # The latest deadline of a flush or close waiting on this lane, if any.
        self._hurry_until: float | None = None
        # Memory events taken by the worker and not yet settled. Taking and
        # counting happen under this lock, so pending() never misses a batch
        # on its way from the queue to the transport.
        self._in_flight = 0
        self._taking = threading.Lock()
        # Held while an event is counted and stops being pending, and while
        # stats are read: a snapshot never sees an event as both or neither,
        # and once flush() sees nothing pending, stats() shows where it went.
        self._settling = threading.Lock()
        self._abandoned = 0  # memory events dropped by the worker at close
        # Spool updates the spool could not take (a full disk): acknowledgements
        # of delivered events, releases. Done before the next lease; the rows
        # stay leased by this process meanwhile, so nobody sends them again.
        self._owed: list[Callable[[], None]] = []
        self._spool_failing = False
        self._kept_at_close: int | None = None  # the spool closes with the client

    def reset_after_fork(self) -> None:
        if self.memory is not None:
            self.memory.reset_after_fork()
        self.counters.reset_after_fork()
        self._reset()

    # -- the caller's side -------------------------------------------------

    def submit(self, event: EncodedEvent) -> bool:
        """Queue an event in memory (background mode); False if dropped."""
        assert self.memory is not None
        if self._thread is None:
            self.start()
        return self.memory.put(event)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"{THREAD_NAME_PREFIX} {self.name}", daemon=True
                )
                self._thread.start()

    def pending(self) -> tuple[int, int]:
        """(events waiting in memory or in flight from it, events waiting in the spool)."""
        in_memory = 0
        if self.memory is not None:
            with self._taking:
                in_memory = len(self.memory) + self._in_flight
        # In-flight spool events are still rows until acknowledged.
        in_spool = 0
        if self._kept_at_close is not None:
            in_spool = self._kept_at_close
        elif self._spool is not None:
            in_spool = self._spool.pending(self.name)
        return in_memory, in_spool

    def snapshot(self) -> tuple[int, DestinationStats]:
        """This destination's stats, and when its last error happened."""
        with self._settling:
            in_memory, in_spool = self.pending()
            return self.counters.stamped_snapshot(in_memory, in_spool)

    def flush(self, deadline: float, hurry: bool = True) -> int:
        """Wait until everything queued is settled or ``deadline``; returns what is left.

        ``hurry``: retry without backoff meanwhile (a flush or close with a
        real deadline), so the remaining attempts happen before it.
        """
        if hurry:
            self.hurry(deadline)
        try:
            while True:
                left = sum(self.pending())
                if left == 0 or time.monotonic() >= deadline or self._stop.is_set():
                    return left
                if self._thread is None:
                    self.start()
                self._wake.set()
                time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
        finally:
            if hurry and self._hurry_until == deadline:
                self._hurry_until = None

    def hurry(self, deadline: float) -> None:
        """Until ``deadline``, retry every :data:`HURRY_INTERVAL` instead of backing off."""
        if self._hurry_until is None or deadline > self._hurry_until:
            self._hurry_until = deadline
        self._nudge.set()
        self._wake.set()

    def close(self, deadline: float) -> tuple[int, int]:
        """Deliver what can be delivered by ``deadline``, then stop.

        Returns what is left: (events lost from memory, counted as dropped
        ``closed``; events kept in the spool for the next start).
        """
        self.flush(deadline)
        self._closing.set()
        self._stop.set()
        self._nudge.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.1)
        if self._owed:
            try:
                self._pay_debts()
            except SpoolError as exc:
                # The rows stay leased by this process; the next start sends
                # them again, counted as possible duplicates.
                logger.warning("the spool %s could not be updated at close: %s",
                               getattr(self._spool, "path", ""), exc)  # fmt: skip
        lost = 0
        if self.memory is not None:
            with self._taking:
                left = self.memory.take(len(self.memory) + 1, 1 << 62)
                # A batch still in flight (a transport stuck past the deadline)
                # is counted as dropped when the worker settles it.
                lost = self._abandoned + self._in_flight
            lost += self._keep_or_drop(left)
        kept = self._spool.pending(self.name) if self._spool is not None else 0
        self._kept_at_close = kept
        self.transport.close()
        return lost, kept

    def _keep_or_drop(self, events: list[EncodedEvent]) -> int:
        """At close: move what memory still holds to the spool, if there is one.

        Returns how many events were dropped (counted as ``closed``).
        """
        if not events:
            return 0
        if self._spool is not None:
            try:
                self._spool.append([self.name], events)
                return 0
            except SpoolError as exc:
                logger.warning("cannot keep %d events for %s in the spool: %s",
                               len(events), self.name, exc)  # fmt: skip
        self.counters.drop("closed", len(events))
        return len(events)

    # -- the worker --------------------------------------------------------

    def _run(self) -> None:
        _worker.active = True
        while not self._stop.is_set():
            source = "memory"
            items: list[Item] = []
            try:
                source, items = self._next_batch()
                if not items:
                    self._wake.wait(self._options.flush_interval)
                    self._wake.clear()
                    continue
                self._deliver(source, items)
            except SpoolError as exc:
                self._spool_trouble(exc)
                self._give_back(source, items)
                self._stop.wait(1.0)
            except Exception:
                # The worker must never die: log, breathe, go on.
                logger.exception("mozdef_client delivery worker for %s failed", self.name)
                self._give_back(source, items)
                self._stop.wait(1.0)

    def _next_batch(self) -> tuple[str, list[Item]]:
        options = self._options
        if self.memory is not None and len(self.memory):
            with self._taking:
                batch = self.memory.take(options.max_batch_events, options.max_batch_bytes)
                self._in_flight = len(batch)
            return "memory", batch
        if self._spool is not None:
            self._pay_debts()
            leased = self._spool.lease(self.name, options.max_batch_events,
                                       options.max_batch_bytes)  # fmt: skip
            if self._spool_failing:
                self._spool_failing = False
                logger.warning("the spool %s works again", self._spool.path)
            return "spool", leased
        return "memory", []

    def _deliver(self, source: str, items: list[Item]) -> None:
        attempts = 0
        while items:
            attempts += 1
            try:
                self.transport.send(_events(source, items))
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
                self._dropped(source, items, exc)
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
        self, source: str, items: list[Item], error: DeliveryError, attempts: int
    ) -> list[Item]:
        """Wait before the next try; return what is still to send (nothing to give up)."""
        self.counters.error(str(error))
        items = self._drop_expired(source, items, error)
        if not items:
            return []
        policy = self._options.retry
        if not policy.should_retry(error, attempts):
            self._dead_letter(source, items, error)
            return []
        self.counters.add("retried", len(items))
        asked = getattr(error, "retry_after", None) is not None
        if self._sleep(policy.delay(error, attempts), asked):
            self._abandon(source, items)
            return []
        return items

    def _sleep(self, delay: float, asked: bool) -> bool:
        """Back off for ``delay`` seconds, less while hurried; True if the lane stopped.

        While a flush or close waits, a server's ``Retry-After`` (``asked``)
        is still honoured when it ends before that deadline; any other wait
        is cut to :data:`HURRY_INTERVAL`.
        """
        end = time.monotonic() + delay
        while not self._stop.is_set():
            now = time.monotonic()
            hurry_until = self._hurry_until
            if hurry_until is not None and now < hurry_until and (not asked or end > hurry_until):
                end = min(end, now + HURRY_INTERVAL)
            if now >= end:
                return False
            self._nudge.wait(end - now)
            self._nudge.clear()
        return True

    def _drop_expired(self, source: str, items: list[Item], error: DeliveryError) -> list[Item]:
        max_age = self._options.max_age
        if max_age is None or source != "spool":
            return items
        cutoff = time.time() - max_age
        expired = [item for item in items if item.created < cutoff]
        if expired:
            self._dead_letter(source, expired, error, reason="expired")
        return [item for item in items if item.created >= cutoff]

    # -- settling ----------------------------------------------------------

    def _delivered(self, source: str, items: Sequence[Item]) -> None:
        if not items:
            return
        with self._settling:
            self.counters.add("delivered", len(items))
            if source == "spool":
                spool = self._spool
                assert spool is not None
                duplicates = sum(1 for item in items if item.maybe_duplicate)
                if duplicates:
                    self.counters.add("duplicates", duplicates)
                self._update_spool(lambda: spool.ack(items, self.name))
            else:
                self._settled(len(items))

    def _dropped(self, source: str, items: Sequence[Item], error: DroppedError) -> None:
        with self._settling:
            self.counters.drop(error.reason, len(items))
            self.counters.error(str(error))
            if source == "spool":
                spool = self._spool
                assert spool is not None
                self._update_spool(lambda: spool.ack(items, self.name))
            else:
                self._settled(len(items))

    def _dead_letter(
        self, source: str, items: Sequence[Item], error: DeliveryError, reason: str = ""
    ) -> None:
        message = f"{reason}: {error}" if reason else str(error)
        with self._settling:
            self.counters.add("dead_lettered", len(items))
            self.counters.error(message)
            if source == "spool":
                spool = self._spool
                assert spool is not None
                self._update_spool(lambda: spool.dead_letter(self.name, items, message))
            else:
                self._dead_letters.add(self.name, list(items), message)
                self._settled(len(items))
        logger.warning("%d events to %s dead-lettered: %s", len(items), self.name, message)

    def _abandon(self, source: str, items: Sequence[Item]) -> None:
        """The client closed while these were still undelivered."""
        if source == "spool":
            spool = self._spool
            assert spool is not None
            self._update_spool(lambda: spool.release(items))
        else:
            lost = self._keep_or_drop(list(items))  # to the spool, if there is one
            with self._taking:
                self._in_flight = max(0, self._in_flight - len(items))
                self._abandoned += lost

    def _give_back(self, source: str, items: Sequence[Item]) -> None:
        """After an unexpected failure: return a batch to where it came from."""
        spool = self._spool
        try:
            if source == "spool" and spool is not None and items:
                # Whether they arrived is unknown (the failure may have come
                # after delivery): a later delivery counts as a possible duplicate.
                self._update_spool(lambda: spool.release(items, maybe_delivered=True))
            elif source == "memory" and self.memory is not None:
                with self._taking:
                    self.memory.put_back(list(items))
                    self._in_flight = max(0, self._in_flight - len(items))
        except Exception:
            logger.exception("mozdef_client could not return a batch for %s", self.name)

    def _pay_debts(self) -> None:
        """Apply the spool updates owed; raises SpoolError while the spool still cannot."""
        while self._owed:
            self._owed[0]()
            self._owed.pop(0)

    def _update_spool(self, update: Callable[[], None]) -> None:
        """Run a spool update now or, if the spool cannot take it, before the next lease."""
        try:
            update()
        except SpoolError as exc:
            self._spool_trouble(exc)
            self._owed.append(update)

    def _spool_trouble(self, exc: SpoolError) -> None:
        # Once per outage, not once a second: a full disk lasts.
        if not self._spool_failing:
            self._spool_failing = True
            logger.warning("delivery to %s is waiting for the spool: %s", self.name, exc)
        self.counters.error(str(exc))

    def _settled(self, count: int) -> None:
        with self._taking:
            self._in_flight = max(0, self._in_flight - count)


def _events(source: str, items: list[Item]) -> list[EncodedEvent]:
    if source == "spool":
        return [item.event for item in items]
    return items
