"""Publish a batch on a confirm-mode channel and wait for all its confirms together.

pika's ``BlockingChannel.basic_publish`` in confirm mode waits for each
message's confirm: one broker round trip (and, for persistent messages, one
disk flush) per event, which caps a local broker near 1k events/s. Here the
whole batch is written first and the confirms are read as they come (the
broker acknowledges many at once with ``multiple``). What is left is the
broker's own work for confirms (it writes persistent messages to disk before
confirming them): measured, about 80% of pika publishing the same messages
without confirms, with under a tenth of the time spent in this client.

This uses the blocking channel's underlying asynchronous channel
(``BlockingChannel._impl``), which pika's blocking adapter itself drives:
the connection stays a plain ``BlockingConnection`` (heartbeats, blocked
connection timeouts, TLS), and nothing runs in a thread of ours.

A ``Basic.Return`` (unroutable with ``mandatory``) names no delivery tag.
The broker sends it before the confirm of the same message and in publish
order, so a return is matched to the earliest unconfirmed message with the
same body that no earlier return claimed (messages with equal bodies are
interchangeable). Every message shares one properties object: a per-message
id would cost a fifth of the publishing CPU, for the rare return.
"""

from __future__ import annotations

import collections
import enum
import struct
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["ConfirmedPublisher", "Outcome"]

#: Most messages published and not yet confirmed at once. A default batch
#: (at most 5,000 events or 1 MiB) goes in one write; measured here, one
#: write of a whole batch beat windows of 1,000 refilled as confirms came.
WINDOW = 5000

_SIZE = struct.Struct(">Q")
_BODY_HEAD = struct.Struct(">BHI")  # frame type, channel, payload size
_BODY_FRAME = 3
_FRAME_END = b"\xce"


class Outcome(enum.Enum):
    """What became of one published message."""

    PENDING = "pending"  # no confirm (yet): not delivered, as far as anyone knows
    ACKED = "acked"
    NACKED = "nacked"
    RETURNED = "returned"  # unroutable: returned, then acknowledged


class ConfirmedPublisher:
    """One channel in confirm mode, publishing batches and tracking their confirms.

    Raises pika's exceptions (or ``OSError``) as they come; the caller maps
    them. After one, :meth:`outcomes_so_far` tells which events of the batch
    were confirmed before it.
    """

    def __init__(
        self,
        pika: Any,
        connection: Any,
        channel: Any,
        *,
        exchange: str,
        routing_key: str,
        confirm_timeout: float,
    ) -> None:
        self._pika = pika
        self._connection = connection
        self._channel = channel
        self._impl = channel._impl  # see the module docstring
        self._exchange = exchange
        self._routing_key = routing_key
        self._confirm_timeout = confirm_timeout
        self._ack_class = pika.spec.Basic.Ack
        self._properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        self._payloads: Sequence[bytes] = ()
        self._low_water = 0  # wake the waiting publisher when this few are unconfirmed
        self._next_tag = 1  # the broker numbers a channel's publishes from 1
        self._first_tag = 1  # of the batch being published
        self._outcomes: list[Outcome] = []
        self._unresolved: collections.deque[int] = collections.deque()  # tags, in order
        self._returned: set[int] = set()
        self._closed_reason: BaseException | None = None
        self._heard_at = -1.0  # monotonic time the last batch's confirms were all read
        self._impl.add_on_close_callback(self._on_close)
        self._impl.add_on_return_callback(self._on_return)
        selected: list[object] = []

        def on_selected(frame: object) -> None:
            selected.append(frame)
            self._wake()

        self._impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=on_selected)
        self._wait(lambda: bool(selected), confirm_timeout)
        if not selected:
            raise pika.exceptions.AMQPChannelError("the broker did not enter confirm mode in time")
        self._marshal_constants()

    @property
    def is_open(self) -> bool:
        return bool(self._impl.is_open) and self._closed_reason is None

    def heard_within(self, seconds: float) -> bool:
        """Whether the last batch was fully confirmed less than ``seconds`` ago."""
        return time.monotonic() - self._heard_at < seconds

    def publish(self, payloads: Sequence[bytes]) -> list[Outcome]:
        """Publish every payload, then wait for their confirms; one outcome per payload.

        Outcomes still ``PENDING`` after ``confirm_timeout`` were not confirmed.
        """
        first = self._first_tag = self._next_tag
        self._payloads = payloads
        self._outcomes = [Outcome.PENDING] * len(payloads)
        self._returned.clear()
        self._unresolved.clear()
        unresolved = self._unresolved
        # A window of unconfirmed messages, refilled as confirms come: the broker
        # confirms while more arrive, and pika's output buffer stays small.
        self._low_water = WINDOW // 2
        sent = 0
        while sent < len(payloads):
            chunk = payloads[sent : sent + WINDOW - len(unresolved)]
            self._write(chunk)
            # Counted once written: a failure after this must not reuse the tags.
            unresolved.extend(range(first + sent, first + sent + len(chunk)))
            sent += len(chunk)
            self._next_tag = first + sent
            if sent < len(payloads):
                self._wait(lambda: len(unresolved) <= self._low_water, self._confirm_timeout)
                if len(unresolved) > self._low_water:
                    break  # no confirms for confirm_timeout: the rest stays unsent
        self._low_water = 0
        self._wait(lambda: not unresolved, self._confirm_timeout)
        self._raise_if_closed()
        if not unresolved:
            self._heard_at = time.monotonic()
        return list(self._outcomes)

    def _write(self, payloads: Sequence[bytes]) -> None:
        """Hand pika the frames of ``payloads`` (Basic.Publish, header, body each) at once.

        pika's own basic_publish builds and marshals three frame objects per
        message and writes each to the socket: 55 µs a message here, more than
        the broker's share. The method frame is the same for every message and
        the header differs only in the body size, so they are marshalled once
        (with pika's frame classes) and the batch's frames leave in one write.
        """
        if not self._impl.is_open:
            self._raise_if_closed()
        marshalled: list[bytes] = []
        for payload in payloads:
            size = len(payload)
            if size > self._body_max:
                # Several body frames: pika's own path (rare; events are small).
                self._send(b"".join(marshalled))
                marshalled.clear()
                self._impl.basic_publish(
                    self._exchange, self._routing_key, payload, self._properties, mandatory=True
                )
                continue
            marshalled += (
                self._publish_frame,
                self._header_head,
                _SIZE.pack(size),
                self._header_tail,
                _BODY_HEAD.pack(_BODY_FRAME, self._channel_number, size),
                payload,
                _FRAME_END,
            )
        if marshalled:
            self._send(b"".join(marshalled))

    def _send(self, data: bytes) -> None:
        """Start ``data`` on the socket at once, pika's buffer taking what it does not take.

        Handed to pika alone, the first byte leaves only after a writer is
        registered and the I/O loop polls: three system calls, each a GIL
        handoff that can wait up to 5 ms while the application's thread is
        busy sending, with the broker idle meanwhile. Only when pika has
        nothing buffered (so order is kept) and only on plain TCP (TLS keeps
        pika's own path).
        """
        transport = self._plain
        if (
            transport is not None
            and transport._state == transport._STATE_ACTIVE
            and not transport.get_write_buffer_size()
        ):
            try:
                sent = transport._sock.send(data)
            except OSError:  # would block, or broken: pika's own write finds out
                sent = 0
            self._impl_connection.bytes_sent += sent
            data = data[sent:]
        if data:
            self._emit([data])

    def _marshal_constants(self) -> None:
        pika = self._pika
        number = self._channel_number = self._impl.channel_number
        impl = self._impl_connection = self._connection._impl
        self._emit = impl._output_marshaled_frames
        transport = getattr(impl, "_transport", None)
        plain = pika.adapters.utils.io_services_utils._AsyncPlaintextTransport
        self._plain = transport if type(transport) is plain else None
        self._body_max = int(self._connection._impl._body_max_length)
        self._publish_frame = pika.frame.Method(
            number,
            pika.spec.Basic.Publish(
                exchange=self._exchange, routing_key=self._routing_key, mandatory=True
            ),
        ).marshal()
        # A header frame: type, channel, size, then class, weight, the 8-byte
        # body size at offset 11, then the properties, then the frame end.
        header = pika.frame.Header(number, 0, self._properties).marshal()
        self._header_head, self._header_tail = header[:11], header[19:]

    def outcomes_so_far(self, size: int) -> list[Outcome]:
        """The outcomes of the last batch as they stood (for after an exception)."""
        outcomes = self._outcomes[:size]
        return outcomes + [Outcome.PENDING] * (size - len(outcomes))

    def _wait(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            self._raise_if_closed()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._connection.process_data_events(time_limit=min(remaining, 1.0))

    def _raise_if_closed(self) -> None:
        if self._closed_reason is not None:
            raise self._closed_reason
        if not self._impl.is_open:
            raise self._pika.exceptions.ChannelClosed(0, "the channel closed")

    # -- callbacks, run by pika inside process_data_events ---------------------

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        outcome = Outcome.ACKED if isinstance(method, self._ack_class) else Outcome.NACKED
        tag = method.delivery_tag
        if method.multiple:
            unresolved = self._unresolved
            while unresolved and unresolved[0] <= tag:
                self._resolve(unresolved.popleft(), outcome)
        else:
            self._resolve(tag, outcome)
            if self._unresolved and self._unresolved[0] == tag:
                self._unresolved.popleft()
            elif tag in self._unresolved:  # out of order (rare): remove it where it is
                self._unresolved.remove(tag)
        if len(self._unresolved) <= self._low_water:
            self._wake()

    def _resolve(self, tag: int, outcome: Outcome) -> None:
        index = tag - self._first_tag
        if not 0 <= index < len(self._outcomes):
            return  # a late confirm of an earlier batch: already counted as failed
        if outcome is Outcome.ACKED and tag in self._returned:
            outcome = Outcome.RETURNED
        self._outcomes[index] = outcome

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        for tag in self._unresolved:  # in publish order, as returns come
            if tag not in self._returned and self._payloads[tag - self._first_tag] == body:
                self._returned.add(tag)
                return

    def _on_close(self, channel: Any, reason: BaseException) -> None:
        self._closed_reason = reason
        self._wake()

    def _wake(self) -> None:
        # process_data_events(time_limit) returns early only for events of the
        # blocking adapter's own; a 0-delay timer is one (public API).
        self._connection.call_later(0, _nothing)


def _nothing() -> None:
    pass
