"""Helpers for testing code that sends MozDef events, with no MozDef and no network.

- :class:`RecordingTransport`: a :class:`~mozdef_client.Transport` that
  records every batch it is given (as httpx's ``MockTransport`` does for
  requests). Tell it to fail with ``error=``, or run your own ``handler``
  to hold, inspect or refuse a batch. Give it to a :class:`Client` in place
  of a URL; every mode works with it, so retries and dead letters can be
  tested too.
- :func:`capture_events`: a context manager (like structlog's
  ``capture_logs``) inside which every :class:`Client`, including those
  behind ``MozDefEvent.send()`` and the logging handler, records what it
  would send instead of sending it.

::

    from mozdef_client import Client, Event, PermanentError
    from mozdef_client.testing import RecordingTransport, capture_events

    transport = RecordingTransport()
    with Client(transport) as client:
        client.send(Event(summary="login failed"))
    assert transport.documents[0]["summary"] == "login failed"

    with capture_events() as events:
        my_code_that_sends()
    assert events[0]["category"] == "authentication"
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .client import Client
from .transports.base import EncodedEvent

__all__ = ["RecordingTransport", "capture_events"]

Handler = Callable[[list[EncodedEvent]], None]


class RecordingTransport:
    """A transport that records the batches it is given, then does as told.

    Args:
        handler: called with each batch after it is recorded; it may block
            (to hold a batch in flight) or raise a delivery error.
        error: raised for every batch, after the handler (for example
            ``RetryableError("down", destination="recording")``).
        name: the destination's name in stats and messages.

    A batch is recorded whether or not it is then refused, so a test sees
    every attempt, retries included. Safe to use from the delivery thread.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        error: BaseException | None = None,
        name: str = "recording",
    ) -> None:
        self.name = name
        self.handler = handler
        self.error = error
        self.closed = 0  # how many times close() was called
        self._batches: list[list[EncodedEvent]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RecordingTransport(name={self.name!r}, batches={len(self.batches)})"

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        taken = list(batch)
        with self._lock:
            self._batches.append(taken)
        if self.handler is not None:
            self.handler(taken)
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed += 1

    @property
    def batches(self) -> list[list[EncodedEvent]]:
        """Every batch given to :meth:`send`, oldest first (a copy)."""
        with self._lock:
            return list(self._batches)

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The JSON documents of every recorded event, oldest first."""
        return [json.loads(event.payload) for batch in self.batches for event in batch]

    def clear(self) -> None:
        """Forget the batches recorded so far."""
        with self._lock:
            self._batches.clear()


@contextlib.contextmanager
def capture_events() -> Iterator[list[dict[str, Any]]]:
    """Capture, instead of sending, every event any :class:`Client` sends.

    Yields the list the events' documents are appended to, as JSON would
    decode them, in the order they were sent. Events are validated and
    encoded as ever (an invalid event still raises ``ValidationError``);
    they are then recorded and counted as accepted, and nothing reaches a
    destination, whatever the client's mode. Captures nest; the innermost
    one gets the events. It swaps ``Client.send_encoded`` for the whole
    process while active, so use one capture at a time across threads.
    """
    captured: list[dict[str, Any]] = []
    lock = threading.Lock()

    def send_encoded(client: Client, event: EncodedEvent) -> bool:
        document = json.loads(event.payload)
        with lock:
            captured.append(document)
        return True

    original = Client.send_encoded
    Client.send_encoded = send_encoded  # type: ignore[method-assign, assignment]
    try:
        yield captured
    finally:
        Client.send_encoded = original  # type: ignore[method-assign]
