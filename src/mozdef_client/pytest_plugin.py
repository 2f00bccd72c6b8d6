"""A pytest plugin: assert the MozDef events your code sent, with no MozDef.

Installed with mozdef-client (entry point ``pytest11``), it gives each test
that asks for it a ``mozdef_events`` fixture: a development receiver on a
free loopback port, with ``MOZDEF_URL`` pointing at it for that test::

    def test_login(mozdef_events):
        login("joe", "wrong")      # code that uses Client() or MOZDEF_URL
        event = mozdef_events.one(category="authentication")
        assert event.details["username"] == "joe"

    def test_legacy(mozdef_events):
        msg = MozDefEvent(mozdef_events.url)   # code that takes a URL
        ...
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the receiver is imported when a test uses the fixture
    from .receiver import ReceivedEvent, Receiver

__all__ = ["CapturedEvent", "CapturedEvents", "mozdef_events"]


class CapturedEvent(Mapping[str, Any]):
    """One received event: its document's fields as attributes and as keys.

    ``event.category``, ``event.details["username"]`` and ``event["summary"]``
    read the document; ``path`` (``/events``, ``/_bulk``, ``/custom/<app>``),
    ``errors`` and ``warnings`` (the MozDef format check), ``document`` and
    ``valid`` describe how it arrived. A field named like one of those, or
    like a mapping method (``get``, ``items``...), is read with ``event[...]``.
    """

    __slots__ = ("_received",)

    def __init__(self, received: ReceivedEvent) -> None:
        self._received = received

    @property
    def document(self) -> Any:
        return self._received.document

    @property
    def path(self) -> str:
        return self._received.path

    @property
    def errors(self) -> tuple[str, ...]:
        return self._received.errors

    @property
    def warnings(self) -> tuple[str, ...]:
        return self._received.warnings

    @property
    def valid(self) -> bool:
        return not self._received.errors

    def _fields(self) -> Mapping[str, Any]:
        document = self._received.document
        return document if isinstance(document, Mapping) else {}

    def __getitem__(self, key: str) -> Any:
        return self._fields()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._fields()[name]
        except KeyError:
            fields = ", ".join(sorted(self._fields())) or "none"
            raise AttributeError(f"the event has no field {name!r}; its fields: {fields}") from None

    def __repr__(self) -> str:
        return f"CapturedEvent({self._received.path!r}, {self._received.document!r})"

    def matches(self, filters: Mapping[str, Any]) -> bool:
        """Whether every filter holds; ``details__username="joe"`` looks inside details."""
        missing = object()
        for key, expected in filters.items():
            value: Any = self._fields()
            for part in key.split("__"):
                value = value.get(part, missing) if isinstance(value, Mapping) else missing
            if value is missing or value != expected:
                return False
        return True


class CapturedEvents:
    """The events a test's receiver got, with helpers to assert on them.

    ``url`` takes one event a request (``POST /events``); ``bulk_url`` takes
    batches (``POST /_bulk``). ``MOZDEF_URL`` is set to ``url`` for the test.
    """

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self.url = receiver.url
        self.bulk_url = receiver.bulk_url
        self.base_url = receiver.base_url

    def __repr__(self) -> str:
        return f"<mozdef_events at {self.base_url}: {len(self)} events>"

    def __len__(self) -> int:
        return len(self._receiver.events)

    def __iter__(self) -> Iterator[CapturedEvent]:
        return iter(self.all())

    def all(self) -> list[CapturedEvent]:
        """Every event received so far, in arrival order."""
        return [CapturedEvent(received) for received in self._receiver.events]

    def filter(self, **fields: Any) -> list[CapturedEvent]:
        """The events whose fields equal ``fields`` (``details__user="joe"`` looks inside)."""
        return [event for event in self.all() if event.matches(fields)]

    def one(self, **fields: Any) -> CapturedEvent:
        """The one event matching ``fields``; fails the test unless exactly one does."""
        found = self.filter(**fields)
        if len(found) != 1:
            wanted = _describe_filters(fields)
            raise AssertionError(
                f"expected exactly one MozDef event with {wanted}, found {len(found)}.\n"
                + self._listing()
            )
        return found[0]

    def wait(self, count: int = 1, timeout: float = 5.0, **fields: Any) -> list[CapturedEvent]:
        """Wait until ``count`` events matching ``fields`` arrived; returns them.

        For code that sends in the background. Fails the test after ``timeout``
        seconds, listing what did arrive.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.filter(**fields)
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                wanted = _describe_filters(fields)
                raise AssertionError(
                    f"waited {timeout:g} s for {count} MozDef events with {wanted}, "
                    f"{len(found)} arrived.\n" + self._listing()
                )
            # Sleep until the next event (of any kind) arrives, then look again.
            arrived = self._receiver.stats().events
            self._receiver.wait_for_events(arrived + 1, timeout=min(left, 0.2))

    def assert_valid(self) -> None:
        """Fail the test if any received event breaks MozDef's format."""
        invalid = [event for event in self.all() if not event.valid]
        if invalid:
            lines = [f"  {event.path}: {event.document!r}: {event.errors[0]}" for event in invalid]
            raise AssertionError(
                f"{len(invalid)} MozDef events are not valid:\n" + "\n".join(lines)
            )

    def clear(self) -> None:
        """Forget the events received so far."""
        self._receiver.clear()

    def _listing(self) -> str:
        events = self.all()
        if not events:
            return "No events arrived."
        lines = [f"{len(events)} events arrived:"]
        lines.extend(f"  {event.path} {_short(event)}" for event in events)
        return "\n".join(lines)


def _describe_filters(fields: Mapping[str, Any]) -> str:
    if not fields:
        return "any fields"
    return ", ".join(f"{key.replace('__', '.')}={value!r}" for key, value in fields.items())


def _short(event: CapturedEvent) -> str:
    fields = event._fields()
    keys = ("category", "severity", "summary", "details") if fields else ()
    shown = {key: fields[key] for key in keys if key in fields}
    text = repr(shown or event.document)
    return text if len(text) <= 300 else text[:299] + "…"


@pytest.fixture
def mozdef_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedEvents]:
    """A MozDef development receiver for this test; ``MOZDEF_URL`` points at it."""
    from .receiver import Receiver

    receiver = Receiver(connection_timeout=10.0)
    receiver.start()
    monkeypatch.setenv("MOZDEF_URL", receiver.url)
    try:
        yield CapturedEvents(receiver)
    finally:
        receiver.close()
