"""Dead letters: events a destination refused for good, kept for inspection and replay."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from ..transports.base import EncodedEvent
from .spool import DeadLetter, Spool

__all__ = ["DeadLetter", "DeadLetterSink", "MemoryDeadLetters", "SpoolDeadLetters"]


class DeadLetterSink(Protocol):
    def add(self, destination: str, events: Sequence[EncodedEvent], error: str) -> None: ...

    def snapshot(self) -> list[DeadLetter]: ...

    def take_all(self) -> list[DeadLetter]: ...


class MemoryDeadLetters:
    """The newest ``max_events`` dead letters, in memory (no spool configured)."""

    def __init__(self, max_events: int) -> None:
        self._lock = threading.Lock()
        self._letters: collections.deque[DeadLetter] = collections.deque(maxlen=max_events)

    def add(self, destination: str, events: Sequence[EncodedEvent], error: str) -> None:
        now = time.time()
        with self._lock:
            self._letters.extend(
                DeadLetter(destination, e.payload, error, now, e.severity) for e in events
            )

    def snapshot(self) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters)

    def take_all(self) -> list[DeadLetter]:
        with self._lock:
            letters = list(self._letters)
            self._letters.clear()
            return letters

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._letters.clear()


class SpoolDeadLetters:
    """Dead letters kept in the spool's database, so they survive restarts."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool

    def add(self, destination: str, events: Sequence[EncodedEvent], error: str) -> None:
        self._spool.add_dead_letters(destination, events, error)

    def snapshot(self) -> list[DeadLetter]:
        return self._spool.dead_letters()

    def take_all(self) -> list[DeadLetter]:
        return self._spool.take_dead_letters()

    def reset_after_fork(self) -> None:
        pass
