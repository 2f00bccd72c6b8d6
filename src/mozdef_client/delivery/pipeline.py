"""The delivery pipeline behind ``Client(mode="background" | "durable")``.

``submit`` runs on the caller's thread and does no network I/O: background
mode appends to each destination's bounded memory queue; durable mode
appends to the on-disk spool and returns. A lane per destination does the
rest (batching, retries, dead letters). The pipeline is safe to use from
any thread and survives ``fork()``: the child starts with empty queues and
new threads, and the parent keeps delivering what it queued.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any

from .. import _process
from ..errors import ConfigurationError, SpoolError
from ..transports.base import EncodedEvent, Transport
from .dead_letters import DeadLetter, DeadLetterSink, MemoryDeadLetters, SpoolDeadLetters
from .lane import Lane
from .memory_source import MemorySource, drop_reason
from .options import DeliveryOptions
from .source import Source
from .spool import Spool
from .stats import Counters, Stats, summarize
from .store_source import StoreSource

__all__ = ["Pipeline"]

logger = logging.getLogger("mozdef_client.delivery")


class Pipeline:
    """Queues, lanes and spool of one client.

    Each lane reads from its sources: its memory queue (background mode),
    then the spool (durable mode, and what background mode spilled or an
    earlier run left there).
    """

    def __init__(
        self,
        transports: Sequence[Transport],
        *,
        durable: bool,
        options: DeliveryOptions,
        spool_dir: str | None,
    ) -> None:
        if durable and spool_dir is None:
            raise ConfigurationError('mode="durable" needs a spool_dir')
        if options.overflow == "spill" and spool_dir is None:
            raise ConfigurationError('overflow="spill" needs a spool_dir')
        self._durable = durable
        self._options = options
        self.counters = Counters()  # submitted; each lane counts the rest for itself
        self.spool = (
            Spool(
                spool_dir,
                max_bytes=options.spool_max_bytes,
                min_free_bytes=options.spool_min_free_bytes,
                fsync=options.fsync,
                lock_timeout=options.spool_lock_timeout,
            )
            if spool_dir is not None
            else None
        )
        self._dead_letters: DeadLetterSink = (
            SpoolDeadLetters(self.spool) if self.spool is not None
            else MemoryDeadLetters(options.max_dead_letters)
        )  # fmt: skip
        self._inboxes: list[tuple[Lane, MemorySource]] = []  # background mode's queues
        self.lanes = [self._lane(transport) for transport in transports]
        self._names = [lane.name for lane in self.lanes]
        self._since_wake = 0
        self._closed = False
        self._held_for_others = self._note_held_for_others()
        if durable or (self.spool is not None and self.spool.pending()):
            # Replay what an earlier run left in the spool without waiting for a send.
            for lane in self.lanes:
                lane.start()
        _register(self)

    def _note_held_for_others(self) -> int:
        """Say at start how many spooled events are for destinations this client lacks."""
        if self.spool is None:
            return 0
        held = self.spool.held_for_others(self._names)
        if held:
            logger.warning(
                "the spool %s holds %d events for destinations this client does not have "
                "(%s); they stay there for a client that has them (see `mozdef-client spool "
                "%s status`, and docs/delivery.md to move or purge them)",
                self.spool.path, sum(held.values()),
                ", ".join(f"{name}: {count}" for name, count in sorted(held.items())),
                self.spool.path,
            )  # fmt: skip
        return sum(held.values())

    def _lane(self, transport: Transport) -> Lane:
        counters = Counters()  # the destination's own; the client's count only submitted
        sources: list[Source[Any]] = []
        memory = None
        if not self._durable:
            memory = MemorySource(transport.name, self._options, counters,
                                  self._dead_letters, self.spool)  # fmt: skip
            sources.append(memory)
        if self.spool is not None:
            sources.append(StoreSource(transport.name, self.spool, counters))
        lane = Lane(transport, self._options, counters, sources)
        if memory is not None:
            self._inboxes.append((lane, memory))
        return lane

    # -- the caller's side -------------------------------------------------

    def submit(self, event: EncodedEvent) -> bool:
        """Hand ``event`` to every destination; False if any dropped it (counted).

        Raises:
            SpoolError: durable mode could not commit the event (disk full, at
                the byte cap, read-only); nothing was committed.
        """
        self.counters.add_submitted()
        if self._closed:
            self._drop_everywhere("closed")
            return False
        if not self._durable:
            accepted = True
            for lane, memory in self._inboxes:
                if not lane.started:
                    lane.start()
                accepted = memory.put(event) and accepted
            return accepted
        assert self.spool is not None
        try:
            self.spool.append(self._names, [event])
        except SpoolError as exc:
            self._drop_everywhere(drop_reason(exc))
            raise
        self._since_wake += 1
        if self._since_wake >= self._options.max_batch_events:
            self._since_wake = 0
            for lane in self.lanes:
                lane.wake()
        return True

    def _drop_everywhere(self, reason: str) -> None:
        # The event is lost for every destination: each counts it, so that per
        # destination, submitted = delivered + dead-lettered + dropped + pending.
        for lane in self.lanes:
            lane.counters.drop(reason)

    def flush(self, timeout: float | None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        # With a deadline, lanes retry without backoff until it (without one,
        # a dead destination would be hammered until it comes back).
        hurry = timeout is not None
        for lane in self.lanes if hurry else ():
            lane.hurry(deadline)
        return sum(lane.flush(deadline, hurry) for lane in self.lanes)

    def close(self, timeout: float | None) -> int:
        """Deliver what can be by the deadline, stop the lanes; returns events left."""
        return self.close_by(time.monotonic() + (timeout if timeout is not None else 1e9))

    def close_by(self, deadline: float) -> int:
        """:meth:`close` with a deadline on the ``time.monotonic()`` clock."""
        if self._closed:
            return 0
        self._closed = True  # from now on, send() drops (counted as "closed")
        for lane in self.lanes:
            lane.hurry(deadline)  # every lane's last tries before the deadline, at once
        lost = kept = 0
        for lane in self.lanes:
            lane_lost, lane_kept = lane.close(deadline)
            lost += lane_lost
            kept += lane_kept
        if lost or kept:
            where = []
            if kept:
                assert self.spool is not None
                where.append(f"{kept} kept in the spool {self.spool.path} for the next start")
            if lost:
                where.append(f"{lost} lost (they were only in memory)")
            logger.warning("%d MozDef events were not delivered at close: %s",
                           lost + kept, "; ".join(where))  # fmt: skip
        if self.spool is not None:
            self.spool.close()
        return lost + kept

    def stats(self) -> Stats:
        return summarize(self.counters, [(lane.name, lane.snapshot()) for lane in self.lanes],
                         spool_other_destinations=self._held_for_others)  # fmt: skip

    def dead_letters(self) -> list[DeadLetter]:
        return self._dead_letters.snapshot()

    def replay_dead_letters(self) -> int:
        """Send every dead letter again, to the destination that refused it."""
        letters = self._dead_letters.take_all()
        by_name = {lane.name: lane for lane in self.lanes}
        inbox = {lane.name: memory for lane, memory in self._inboxes}
        replayed = 0
        for index, letter in enumerate(letters):
            event = EncodedEvent(letter.payload, letter.severity)
            lane = by_name.get(letter.destination)
            if lane is None:  # a destination this client does not have: keep it
                self._dead_letters.add(letter.destination, [event], letter.error)
                continue
            if self.spool is not None and self._durable:
                try:
                    self.spool.append([lane.name], [event])
                except SpoolError:
                    # Keep what could not be queued, then tell the caller.
                    for rest in letters[index:]:
                        self._dead_letters.add(
                            rest.destination, [EncodedEvent(rest.payload, rest.severity)],
                            rest.error,
                        )  # fmt: skip
                    raise
                lane.wake()
            else:
                lane.start()
                inbox[lane.name].put(event)
            # A replay is a new submission: delivered + dead_lettered + dropped
            # + pending keep adding up to submitted.
            self.counters.add_submitted()
            replayed += 1
        return replayed

    def reset_after_fork(self) -> None:
        self.counters.reset_after_fork()
        if self.spool is not None:
            self.spool.reset_after_fork()
        reset = getattr(self._dead_letters, "reset_after_fork", None)
        if reset is not None:
            reset()
        for lane in self.lanes:
            lane.reset_after_fork()
        if self._durable and not self._closed:
            for lane in self.lanes:
                lane.start()


# Every live pipeline, for fork handling and the close at exit. Weak, so a
# pipeline nobody uses any more can be collected.
_PIPELINES: weakref.WeakSet[Pipeline] = weakref.WeakSet()


def _register(pipeline: Pipeline) -> None:
    _PIPELINES.add(pipeline)


def _after_fork_in_child() -> None:
    for pipeline in list(_PIPELINES):
        pipeline.reset_after_fork()


def _close_all_at_exit() -> None:
    """Close every client at exit, all within one deadline (not one each).

    Each client gets its own ``exit_timeout`` from the same start; all lanes
    deliver their last events at the same time, then each client closes.
    """
    start = time.monotonic()
    pipelines = [p for p in list(_PIPELINES) if p._options.exit_timeout is not None]
    deadlines = {id(p): start + (p._options.exit_timeout or 0.0) for p in pipelines}
    for pipeline in pipelines:
        for lane in pipeline.lanes:
            lane.hurry(deadlines[id(pipeline)])
    for pipeline in pipelines:
        try:
            pipeline.close_by(deadlines[id(pipeline)])
        except Exception:
            logger.exception("closing a MozDef client at exit failed")


_process.at_fork("delivery", _after_fork_in_child)
_process.at_exit("delivery", _close_all_at_exit)
