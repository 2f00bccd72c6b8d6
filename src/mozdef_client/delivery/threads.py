"""Delivery worker threads: their names, and how to tell one is running.

What is logged on a worker thread must never be sent as an event (a failing
destination's logging would feed events about itself), so the logging faces
ask :func:`in_delivery_thread` before they send.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["THREAD_NAME_PREFIX", "in_delivery_thread", "start_worker"]

#: The start of every worker thread's name ("mozdef-delivery https://...").
THREAD_NAME_PREFIX = "mozdef-delivery"

_worker = threading.local()  # .active is set on each worker thread


def in_delivery_thread(thread_name: str | None = None) -> bool:
    """Whether the calling thread is a delivery worker.

    With ``thread_name`` (a log record's ``threadName``, for records handled
    on another thread than the one that logged them): whether that names one.
    """
    if getattr(_worker, "active", False):
        return True
    return thread_name is not None and thread_name.startswith(THREAD_NAME_PREFIX)


def start_worker(destination: str, run: Callable[[], None]) -> threading.Thread:
    """Start the daemon thread that delivers to ``destination``."""

    def worker() -> None:
        _worker.active = True
        run()

    thread = threading.Thread(
        target=worker, name=f"{THREAD_NAME_PREFIX} {destination}", daemon=True
    )
    thread.start()
    return thread
