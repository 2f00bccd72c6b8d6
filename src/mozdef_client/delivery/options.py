"""Options of the background and durable delivery pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._checks import is_number, is_whole
from ..errors import ConfigurationError
from .retry import RetryPolicy
from .store.sync import Fsync, check_fsync

__all__ = ["OVERFLOW_POLICIES", "DeliveryOptions", "Mode", "Overflow"]

Mode = Literal["sync", "background", "durable"]
Overflow = Literal["block", "drop_oldest", "drop_newest", "spill"]
OVERFLOW_POLICIES = ("block", "drop_oldest", "drop_newest", "spill")


@dataclass(frozen=True, kw_only=True)
class DeliveryOptions:
    """How the background and durable modes queue, batch, retry and spool.

    Args:
        max_queue_events: events held in memory per destination (background).
        overflow: what ``send()`` does when that queue is full: ``block`` (wait
            up to ``block_timeout``, then drop the event), ``drop_oldest``,
            ``drop_newest``, or ``spill`` to the on-disk spool (needs a
            ``spool_dir``). Every dropped event is counted by reason.
        block_timeout: seconds ``send()`` may wait for room with ``block``.
        max_batch_events, max_batch_bytes: the largest batch handed to a
            transport (an HTTP ``/_bulk`` request, SQS batches of up to 10).
            Large batches mean fewer round trips, each of which waits for the
            caller's thread to let go of the GIL; 1 MiB is nginx's default
            ``client_max_body_size``, in front of many MozDef installations.
        flush_interval: seconds a partial batch may wait before it is sent.
        retry: the :class:`RetryPolicy`.
        spool_max_bytes: the on-disk spool's cap on event bytes.
        spool_min_free_bytes: durable ``send()`` refuses events (``SpoolError``)
            rather than leave less than this free on the spool's disk, so the
            spool can still record deliveries and drain when the disk fills.
        max_age: seconds after which an undelivered spooled event is
            dead-lettered; ``None`` keeps retrying.
        exit_timeout: seconds the ``atexit`` close may take; ``None`` turns the
            ``atexit`` close off.
        max_dead_letters: dead letters kept in memory when there is no spool.
        fsync: what durable ``send()`` survives beyond a killed process.
            ``False``: not a power cut. ``True`` (or ``"always"``): a power cut
            too, at the cost of one fdatasync per ``send()`` (about 14x slower,
            see docs/delivery.md). ``"interval"``: a thread syncs the spool at
            most every second, so a power cut loses at most about the last
            second of events, at little cost to ``send()``.
        spool_lock_timeout: seconds a spool operation waits for a lock another
            process holds (opening the spool, dead letters) before it raises
            ``SpoolError``; a durable ``send()`` itself never waits for one.
    """

    max_queue_events: int = 50_000
    overflow: Overflow = "block"
    block_timeout: float = 0.25
    max_batch_events: int = 5000
    max_batch_bytes: int = 1024 * 1024
    flush_interval: float = 0.2
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    spool_max_bytes: int = 1024 * 1024 * 1024
    spool_min_free_bytes: int = 16 * 1024 * 1024
    max_age: float | None = None
    exit_timeout: float | None = 2.0
    max_dead_letters: int = 10_000
    fsync: Fsync = False
    spool_lock_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.overflow not in OVERFLOW_POLICIES:
            raise ConfigurationError(
                f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, not {self.overflow!r}"
            )
        for name in ("max_queue_events", "max_batch_events", "max_batch_bytes",
                     "spool_max_bytes", "max_dead_letters"):  # fmt: skip
            value = getattr(self, name)
            if not is_whole(value, at_least=1):
                raise ConfigurationError(f"{name} must be a positive integer")
        for name in ("block_timeout", "flush_interval", "max_age", "exit_timeout",
                     "spool_lock_timeout"):  # fmt: skip
            value = getattr(self, name)
            if value is None and name in ("max_age", "exit_timeout"):
                continue
            if not is_number(value, at_least=0):
                raise ConfigurationError(f"{name} must be a number of seconds >= 0")
        if not is_whole(self.spool_min_free_bytes, at_least=0):
            raise ConfigurationError("spool_min_free_bytes must be an integer >= 0")
        check_fsync(self.fsync)
        if not isinstance(self.retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
