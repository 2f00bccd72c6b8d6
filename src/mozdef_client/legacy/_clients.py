"""The process-wide clients the 1.1 classes share, one per configuration and mode.

A program that makes a new ``MozDefEvent`` per event (the usual 1.1 pattern)
reuses pooled connections and the SQS queue URL instead of building anew.
Fire-and-forget events wait in background clients, flushed at exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .. import _process
from ..client import Client
from ..delivery import Mode, Stats
from ..transports.base import Transport

__all__ = ["close_fire_and_forget", "delivery_stats", "fire_and_forget_stats",
           "flush_fire_and_forget", "shared_client"]  # fmt: skip

_shared_lock = threading.Lock()
_shared_clients: dict[tuple[Any, ...], Client] = {}
_MAX_SHARED_SYNC_CLIENTS = 64


def shared_client(
    key: tuple[Any, ...], destinations: Callable[[], list[Transport]], mode: Mode
) -> Client:
    """The process-wide client for one legacy configuration and mode."""
    key = (mode, *key)
    with _shared_lock:
        client = _shared_clients.get(key)
        if client is None:
            if mode == "sync":
                _evict_oldest_sync_client()
            client = Client(destinations(), mode=mode)
            _shared_clients[key] = client
        return client


def _evict_oldest_sync_client() -> None:
    # A program that changes configuration endlessly must not grow this
    # forever. Background clients are kept: they may hold queued events.
    sync_keys = [key for key in _shared_clients if key[0] == "sync"]
    if len(sync_keys) >= _MAX_SHARED_SYNC_CLIENTS:
        _shared_clients.pop(sync_keys[0]).close()


def delivery_stats() -> dict[str, Stats]:
    """Delivery stats of every client the 1.1 classes use, sending now or fire-and-forget.

    Keyed ``"<mode>: <destinations>"``, e.g. ``"sync: syslog:/dev/log"``: a
    missing syslog socket shows there as ``dropped["unavailable"]``.
    """
    with _shared_lock:
        clients = list(_shared_clients.values())
    stats: dict[str, Stats] = {}
    for client in clients:
        name = f"{client.mode}: {', '.join(client.destinations)}"
        # Two configurations (say, other timeouts) may share destinations.
        key, number = name, 1
        while key in stats:
            number += 1
            key = f"{name} ({number})"
        stats[key] = client.stats()
    return stats


def fire_and_forget_stats() -> dict[str, Stats]:
    """Delivery stats of the legacy fire-and-forget clients, by destination."""
    with _shared_lock:
        clients = [c for c in _shared_clients.values() if c.mode == "background"]
    return {", ".join(c.destinations): c.stats() for c in clients}


def flush_fire_and_forget(timeout: float | None = None) -> int:
    """Wait until fire-and-forget events are delivered; returns how many remain.

    Fire-and-forget sends only queue; call this where a program (or a test)
    needs them to have arrived. They are also flushed, briefly, at exit.
    """
    with _shared_lock:
        clients = list(_shared_clients.values())
    deadline = None if timeout is None else time.monotonic() + timeout
    left = 0
    for client in clients:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        left += client.flush(remaining)
    return left


def close_fire_and_forget(timeout: float | None = 2.0) -> int:
    """Deliver what fire-and-forget sends queued (within ``timeout``), then
    close their background clients; returns how many events were left.

    The ``atexit`` close does the same; call this to choose the moment and
    the bound. A later fire-and-forget send starts a new client.
    """
    with _shared_lock:
        keys = [key for key in _shared_clients if key[0] == "background"]
        clients = [_shared_clients.pop(key) for key in keys]
    deadline = None if timeout is None else time.monotonic() + timeout
    left = 0
    for client in clients:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        left += client.close(remaining)
    return left


def _forget_shared_after_fork() -> None:
    # The parent's clients go on delivering what the parent queued; the child
    # builds its own on its first fire-and-forget send.
    global _shared_lock
    _shared_lock = threading.Lock()
    _shared_clients.clear()


def _close_shared_sync_clients() -> None:
    # Their sockets (syslog's) close cleanly; background clients are closed,
    # with their own time bound, by the delivery pipeline's exit handler.
    with _shared_lock:
        sync = [key for key in _shared_clients if key[0] == "sync"]
        clients = [_shared_clients.pop(key) for key in sync]
    for client in clients:
        client.close()


_process.at_fork("shared clients", _forget_shared_after_fork)
_process.at_exit("shared clients", _close_shared_sync_clients)
