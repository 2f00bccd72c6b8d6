"""The HTTP transport against a real receiver on loopback: wire format, status
handling, network failures, keep-alive, secrets and TLS."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from mozdef_client import (
    Client,
    EncodedEvent,
    Event,
    EventTooLargeError,
    HTTPOptions,
    HTTPTransport,
    MozDefError,
    PartialDeliveryError,
    PermanentError,
    RetryableError,
    Severity,
    prepare,
)
from servers import Fault, Receiver, free_port
from tls import TLSFiles, make_tls_files, server_context

TOKEN = "Bearer s3cr3t-T0KEN-4711"


def encoded(summary: str = "test event", **fields: object) -> EncodedEvent:
    return prepare(Event(summary=summary, **fields))  # type: ignore[arg-type]


def send_one(url: str, **options: object) -> None:
    HTTPTransport(url, HTTPOptions(**options)).send([encoded()])  # type: ignore[arg-type]


# --- wire format ---------------------------------------------------------------


def test_each_event_is_one_post_to_events_as_compact_json(receiver: Receiver) -> None:
    """With bulk=False every event is its own POST with Content-Type application/json."""
    batch = [
        encoded("first", severity=Severity.WARNING, details={"user": "joe", "n": [1, 2]}),
        encoded("second", tags=["a"]),
    ]
    HTTPTransport(receiver.url, HTTPOptions(bulk=False)).send(batch)

    requests = receiver.requests
    assert [(r.method, r.path) for r in requests] == [("POST", "/events")] * 2
    for request, event in zip(requests, batch, strict=True):
        assert request.headers["Content-Type"] == "application/json"
        assert request.body == event.payload
        document = json.loads(request.body)
        assert request.body == json.dumps(
            document, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    assert [e["summary"] for e in receiver.events] == ["first", "second"]
    first, second = receiver.events
    assert first["severity"] == "WARNING"
    assert first["details"] == {"user": "joe", "n": [1, 2]}
    assert second["tags"] == ["a"]


def test_a_batch_for_an_events_url_goes_to_the_sibling_bulk_endpoint(receiver: Receiver) -> None:
    """MozDef serves /_bulk beside /events: batches go there, single events to /events."""
    transport = HTTPTransport(receiver.url)
    transport.send([encoded("alone")])
    transport.send([encoded(f"event {i}") for i in range(3)])

    assert [(r.path, len(r.documents)) for r in receiver.requests] == [
        ("/events", 1),
        ("/_bulk", 3),
    ]
    assert receiver.requests[1].headers["Content-Type"] == "application/json"


def test_bulk_url_posts_the_batch_as_one_json_array(receiver: Receiver) -> None:
    """A URL ending in /_bulk sends the whole batch in one request, as a JSON array
    (MozDef's /_bulk publishes an array element by element; see test_http_routing)."""
    batch = [encoded(f"event {i}") for i in range(5)]
    HTTPTransport(receiver.bulk_url).send(batch)

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/_bulk")
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == b"[" + b",".join(event.payload for event in batch) + b"]"
    assert [e["summary"] for e in receiver.events] == [f"event {i}" for i in range(5)]


def test_user_agent_names_the_library(receiver: Receiver) -> None:
    send_one(receiver.url)
    assert receiver.requests[0].headers["User-Agent"].startswith("mozdef-client/")


# --- answers -------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_answer_is_an_acknowledgement(receiver: Receiver, status: int) -> None:
    receiver.script(status)
    send_one(receiver.url)
    assert receiver.requests[0].status == status


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_busy_or_failing_server_answers_are_retryable(receiver: Receiver, status: int) -> None:
    receiver.script(status)
    transport = HTTPTransport(receiver.url)
    with pytest.raises(RetryableError) as caught:
        transport.send([encoded()])
    assert caught.value.status == status
    assert caught.value.retry_after is None
    assert caught.value.destination == transport.name
    assert f"HTTP {status}" in str(caught.value)
    assert transport.name in str(caught.value)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_reported(receiver: Receiver, status: int) -> None:
    receiver.script(Fault(status, retry_after="7"))
    with pytest.raises(RetryableError) as caught:
        send_one(receiver.url)
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_as_http_date_becomes_seconds_from_now(receiver: Receiver, status: int) -> None:
    receiver.script(Fault(status, retry_after=formatdate(time.time() + 120, usegmt=True)))
    with pytest.raises(RetryableError) as caught:
        send_one(receiver.url)
    assert caught.value.retry_after is not None
    assert 90 <= caught.value.retry_after <= 121


def test_413_means_the_event_is_too_large(receiver: Receiver) -> None:
    receiver.script(413)
    with pytest.raises(EventTooLargeError) as caught:
        send_one(receiver.url)
    assert caught.value.status == 413


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_error_answers_are_permanent(receiver: Receiver, status: int) -> None:
    receiver.script(Fault(status, body=b"go away"))
    with pytest.raises(PermanentError) as caught:
        send_one(receiver.url)
    assert not isinstance(caught.value, EventTooLargeError)
    assert caught.value.status == status
    assert f"HTTP {status}" in str(caught.value)
    assert "go away" in str(caught.value)


def test_a_failed_batch_stops_at_the_failing_event(receiver: Receiver) -> None:
    """One POST per event: a failure stops the batch and says which events did not arrive."""
    receiver.script(200, 400)
    with pytest.raises(PartialDeliveryError) as caught:
        transport = HTTPTransport(receiver.url, HTTPOptions(bulk=False))
        transport.send([encoded("a"), encoded("b"), encoded("c")])
    assert [e["summary"] for e in receiver.events] == ["a"]
    assert len(receiver.requests) == 2
    failures = caught.value.failures
    assert sorted(failures) == [1, 2]
    assert isinstance(failures[1], PermanentError) and failures[1].status == 400
    # The event after the refused one was never tried: it may be sent again.
    assert isinstance(failures[2], RetryableError)


# --- network failures ------------------------------------------------------------


def test_refused_connection_is_retryable_and_names_the_destination() -> None:
    port = free_port()  # nobody listens here
    url = f"http://127.0.0.1:{port}/events"
    started = time.monotonic()
    with pytest.raises(RetryableError) as caught:
        send_one(url)
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}/events" in str(caught.value)
    assert "connect" in str(caught.value).lower()
    assert caught.value.status is None
    assert caught.value.__cause__ is not None


def test_a_hanging_receiver_times_out_quickly(receiver: Receiver) -> None:
    receiver.script(Fault(hang=5.0))
    started = time.monotonic()
    with pytest.raises(RetryableError) as caught:
        send_one(receiver.url, read_timeout=0.5)
    assert time.monotonic() - started < 4
    assert "timed out" in str(caught.value)
    assert f"127.0.0.1:{receiver.port}/events" in str(caught.value)


def test_a_reset_connection_is_retryable(receiver: Receiver) -> None:
    receiver.script(Fault(reset=True))
    started = time.monotonic()
    with pytest.raises(RetryableError) as caught:
        send_one(receiver.url)
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{receiver.port}/events" in str(caught.value)
    assert receiver.events == []


def test_the_post_after_a_failure_goes_through(receiver: Receiver) -> None:
    """A broken connection is not reused: the next send opens a fresh one."""
    receiver.script(Fault(reset=True))
    transport = HTTPTransport(receiver.url)
    with pytest.raises(RetryableError):
        transport.send([encoded("lost")])
    transport.send([encoded("delivered")])
    assert [e["summary"] for e in receiver.events] == ["delivered"]


# --- keep-alive ----------------------------------------------------------------


def test_clients_share_keep_alive_connections(receiver: Receiver) -> None:
    """50 sends from 5 Client objects reuse pooled connections (1.1 opened one per send)."""
    clients = [Client(receiver.url) for _ in range(5)]
    for i in range(50):
        clients[i % 5].send(Event(summary=f"event {i}"))
    requests = receiver.requests
    assert len(requests) == 50
    connections = {request.client_port for request in requests}
    assert 0 not in connections
    # Sequential sends need one connection; a pool per Client would need five.
    assert len(connections) <= 2


# --- secrets -------------------------------------------------------------------


def test_extra_headers_arrive_but_never_show(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Authorization reaches the server, yet no repr, error or log line holds it,
    not even when the server echoes it back in its error body."""
    caplog.set_level(logging.DEBUG)
    client = Client(receiver.url, headers={"Authorization": TOKEN, "X-Trace": "abc"})
    receiver.script(Fault(401, body=f"invalid credentials: {TOKEN}".encode()))
    with pytest.raises(PermanentError) as caught:
        client.send(Event(summary="who am I"))
    client.send(Event(summary="welcome"))

    [refused, accepted] = receiver.requests
    assert refused.headers["Authorization"] == TOKEN
    assert accepted.headers["Authorization"] == TOKEN
    assert accepted.headers["X-Trace"] == "abc"
    assert caught.value.status == 401
    assert "HTTP 401" in str(caught.value)
    transport = HTTPTransport(receiver.url, HTTPOptions(headers={"Authorization": TOKEN}))
    shown = [
        str(caught.value),
        repr(caught.value),
        repr(client),
        repr(transport),
        repr(HTTPOptions(headers={"Authorization": TOKEN})),
        caplog.text,
    ]
    secret = TOKEN.split()[1]
    for text in shown:
        assert secret not in text


def test_headers_never_show_in_connection_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = Client(f"http://127.0.0.1:{free_port()}/events", headers={"Authorization": TOKEN})
    with pytest.raises(RetryableError) as caught:
        client.send(Event(summary="nobody home"))
    secret = TOKEN.split()[1]
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.__cause__)
    assert secret not in caplog.text


def test_credentials_in_the_url_become_basic_auth_and_stay_hidden(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """user:password@ in the URL is sent as Basic auth (percent-decoded), never shown."""
    caplog.set_level(logging.DEBUG)
    url = f"http://joe:pa%40ss%3Aword@127.0.0.1:{receiver.port}/events"
    transport = HTTPTransport(url)
    transport.send([encoded()])
    receiver.script(Fault(401, body=b"no such user"))
    with pytest.raises(PermanentError) as caught:
        transport.send([encoded()])

    expected = base64.b64encode(b"joe:pa@ss:word").decode()
    assert receiver.requests[0].headers["Authorization"] == f"Basic {expected}"
    assert transport.name == f"http://127.0.0.1:{receiver.port}/events"
    for text in (str(caught.value), repr(transport), repr(Client(url)), caplog.text):
        assert "pa%40ss" not in text
        assert "pa@ss" not in text
        assert expected not in text


# --- TLS -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def https_receiver(tls_files: TLSFiles) -> Iterator[Receiver]:
    server = Receiver(ssl_context=server_context(tls_files))
    yield server
    server.close()


@pytest.fixture
def mtls_receiver(tls_files: TLSFiles) -> Iterator[Receiver]:
    server = Receiver(ssl_context=server_context(tls_files, require_client_cert=True))
    yield server
    server.close()


def test_an_untrusted_certificate_is_refused_by_default(https_receiver: Receiver) -> None:
    client = Client(https_receiver.url)
    with pytest.raises(MozDefError) as caught:
        client.send(Event(summary="to an impostor"))
    assert "TLS" in str(caught.value)
    assert f"127.0.0.1:{https_receiver.port}/events" in str(caught.value)
    assert https_receiver.requests == []


def test_a_ca_bundle_makes_the_certificate_trusted(
    https_receiver: Receiver, tls_files: TLSFiles
) -> None:
    Client(https_receiver.url, ca_bundle=tls_files.ca_file).send(Event(summary="over TLS"))
    assert [e["summary"] for e in https_receiver.events] == ["over TLS"]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_accepts_any_certificate(https_receiver: Receiver) -> None:
    Client(https_receiver.url, verify=False).send(Event(summary="unverified"))
    assert [e["summary"] for e in https_receiver.events] == ["unverified"]


def test_mutual_tls_sends_the_client_certificate(
    mtls_receiver: Receiver, tls_files: TLSFiles
) -> None:
    client = Client(
        mtls_receiver.url,
        ca_bundle=tls_files.ca_file,
        client_cert=tls_files.client_cert_file,
        client_key=tls_files.client_key_file,
    )
    client.send(Event(summary="mutual"))
    assert [e["summary"] for e in mtls_receiver.events] == ["mutual"]


def test_mutual_tls_fails_without_a_client_certificate(
    mtls_receiver: Receiver, tls_files: TLSFiles
) -> None:
    client = Client(mtls_receiver.url, ca_bundle=tls_files.ca_file)
    with pytest.raises(MozDefError) as caught:
        client.send(Event(summary="anonymous"))
    assert f"127.0.0.1:{mtls_receiver.port}/events" in str(caught.value)
    assert mtls_receiver.requests == []
