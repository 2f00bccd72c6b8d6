"""HTTP(S) transport: ``POST /events`` (one event a request) or ``POST /_bulk``.

Batches go to ``/_bulk`` as one JSON array: MozDef's handler runs
``json.loads`` on the whole body and publishes an array element by element,
whatever its length, while a body of one object (a one-event NDJSON body
included) is iterated by its keys into junk messages. Vulnerability
documents (marked by :mod:`mozdef_client.routing`) go one a request to
``/custom/vulnerability`` beside ``/events`` or ``/_bulk``, the only
MozDef route that indexes them whole.

Connections come from one urllib3 pool manager per TLS configuration, shared
by every transport in the process, so keep-alive works across objects (1.1
opened a new session, and a new connection, per message).
"""

from __future__ import annotations

import base64
import http.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote

import urllib3
from urllib3.exceptions import (
    HTTPError,
    InvalidHeader,
    LocationParseError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    SSLError,
    TimeoutError,
)
from urllib3.util import Retry, Timeout, parse_url

from .._checks import is_number
from .._redact import redact, redact_url, secret_forms
from .._version import __version__
from ..encoding import encode_json_array
from ..errors import (
    ConfigurationError,
    DeliveryError,
    EventTooLargeError,
    PermanentError,
    RetryableError,
)
from ..routing import (
    CUSTOM_VULNERABILITY_PATH,
    is_custom_vulnerability,
    unmark_custom_vulnerability,
)
from ._deadline import deadline
from ._failures import CATCH_ALL, Rule, translating
from ._http_pool import POOLS
from ._tls import TLSOptions, tls_options_of
from .base import EncodedEvent, PartialDeliveryError

__all__ = ["HTTP_FAILURES", "RETRYABLE_STATUSES", "HTTPOptions", "HTTPTransport", "redact_url"]

#: Statuses that mean "not now": MozDef or its gateway is busy or restarting.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: How much of an answer's body is read: enough for an error message. The
#: rest is never read (a connection with unread body is dropped), so memory
#: stays flat whatever a server sends.
BODY_READ_LIMIT = 4096

#: Foreign exceptions of an HTTP request, and what they become (first match).
HTTP_FAILURES: tuple[Rule, ...] = (
    Rule((SSLError,), RetryableError, "TLS failure talking to"),
    Rule((NewConnectionError,), RetryableError, "could not connect to"),
    Rule((TimeoutError,), RetryableError, "timed out talking to"),
    Rule((ProtocolError,), RetryableError, "connection broken talking to"),
    Rule((HTTPError,), RetryableError, "failed to talk to"),
    Rule((http.client.HTTPException,), RetryableError, "bad answer from"),
    Rule((OSError,), RetryableError, "failed to talk to"),
    CATCH_ALL,
)


@dataclass(frozen=True, kw_only=True)
class HTTPOptions:
    """How to talk HTTP(S) to MozDef.

    Args:
        verify: check the server's TLS certificate (on by default).
        ca_bundle: a PEM file of CAs to trust instead of the system's.
        client_cert, client_key: PEM files for mutual TLS.
        headers: extra request headers, e.g. ``Authorization``; never shown
            in ``repr``, logs or errors.
        connect_timeout, read_timeout: seconds for connecting, and for each
            read of the answer.
        total_timeout: the most seconds one request may take, from connecting
            to the last byte of the answer read (default: connect_timeout +
            read_timeout). A server that answers slower than that, however
            steadily it trickles bytes, fails the request with a
            :class:`RetryableError`. Enforced by a watchdog thread that shuts
            the socket down at the deadline.
        bulk: how batches of several events go. ``None`` (the default):
            a URL ending in ``/_bulk`` always gets a JSON array (even of one
            event); a URL ending in ``/events`` gets single events there and
            batches as a JSON array at the sibling ``/_bulk``; any other URL
            gets one event a request. ``True``: always a JSON array to the
            URL; ``False``: never.
    """

    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float | None = None
    bulk: bool | None = None
    # Built and checked from the four fields above; one value the transports share.
    _tls: TLSOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Mapping):
            raise ConfigurationError("headers must be a mapping of names to values")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ConfigurationError("header names and values must be strings")
            if any(c in name + value for c in "\r\n\0") or not name.strip():
                # Name only the header: its value may be a secret.
                raise ConfigurationError(f"header {name!r} holds a line break or is empty")
            try:
                (name + value).encode("latin-1")
            except UnicodeEncodeError:
                # HTTP sends header bytes as Latin-1: "Bearer …" (a real
                # ellipsis, copied from docs) cannot be sent. Never echo the value.
                raise ConfigurationError(
                    f"header {name.encode('ascii', 'backslashreplace').decode()!r} holds "
                    "characters HTTP cannot send (only Latin-1 is allowed in headers)"
                ) from None
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        for label in ("connect_timeout", "read_timeout", "total_timeout"):
            value = getattr(self, label)
            if label == "total_timeout" and value is None:
                continue
            if not is_number(value, above=0):
                raise ConfigurationError(f"{label} must be a positive number of seconds")
        object.__setattr__(self, "_tls", tls_options_of(self))

    @property
    def tls_options(self) -> TLSOptions:
        """The TLS settings (``verify``, ``ca_bundle``, ``client_cert``, ``client_key``)."""
        return self._tls

    @property
    def effective_total_timeout(self) -> float:
        """The total deadline of one request in seconds."""
        if self.total_timeout is not None:
            return float(self.total_timeout)
        return float(self.connect_timeout + self.read_timeout)


# One attempt per send: retrying is the delivery pipeline's job (with backoff,
# and counted), and a POST that may have arrived must not be repeated blindly.
# urllib3 still replaces a pooled connection the server has closed.
_NO_RETRIES = Retry(total=0, redirect=0, raise_on_redirect=False, raise_on_status=False)


class HTTPTransport:
    """Posts events to a MozDef HTTP intake URL."""

    def __init__(self, url: str, options: HTTPOptions | None = None) -> None:
        options = options or HTTPOptions()
        try:
            parsed = parse_url(url)
        except LocationParseError as exc:
            raise ConfigurationError("HTTP destination URL cannot be parsed") from exc
        if parsed.scheme not in ("http", "https"):
            raise ConfigurationError(
                f"HTTP destination URL must start with http:// or https://, not {parsed.scheme!r}"
            )
        if not parsed.host:
            raise ConfigurationError("HTTP destination URL has no host")
        self.name = redact_url(url)
        self._options = options
        self._url = parsed._replace(auth=None).url
        path = (parsed.path or "").rstrip("/")
        self.bulk = options.bulk if options.bulk is not None else path.endswith("/_bulk")
        # Where batches of several events go: MozDef serves /_bulk beside /events.
        self._batch_url: str | None = self._url if self.bulk else None
        if options.bulk is None and path.endswith("/events"):
            self._batch_url = parsed._replace(auth=None, path=path[: -len("events")] + "_bulk").url
        # MozDef indexes a vulnerability document whole only from /custom/vulnerability,
        # beside /events and /_bulk; any other URL was chosen by the user: keep it.
        self._vulnerability_url = self._url
        if path.endswith(("/events", "/_bulk")):
            intake = path.rpartition("/")[0]
            self._vulnerability_url = parsed._replace(
                auth=None, path=f"{intake}/{CUSTOM_VULNERABILITY_PATH}"
            ).url
        self._timeout = Timeout(connect=options.connect_timeout, read=options.read_timeout)
        self._total_timeout = options.effective_total_timeout
        headers = {"User-Agent": f"mozdef-client/{__version__}"}
        secrets: list[str] = []
        if parsed.auth:
            # userinfo is percent-encoded in URLs (a password with '@' is written %40).
            user, _, password = parsed.auth.partition(":")
            plain = f"{unquote(user)}:{unquote(password)}"
            token = base64.b64encode(plain.encode("utf-8")).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
            secrets += [token, password, unquote(password)]
        headers.update(options.headers)
        for value in options.headers.values():
            # The whole value and its credential part ("Bearer <credential>").
            secrets += [value, value.split()[-1] if value.split() else ""]
        self._secrets = secret_forms(secrets)
        self._event_headers = {**headers, "Content-Type": "application/json"}

    def __repr__(self) -> str:
        return f"HTTPTransport({self.name!r}, bulk={self.bulk})"

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        if not batch:
            return
        requests = self._requests(batch)
        for position, (url, body, indexes) in enumerate(requests):
            try:
                self._post(url, body, self._event_headers)
            except DeliveryError as exc:
                if position == 0:
                    raise  # nothing arrived: the whole batch may be tried again
                # The first requests arrived: say which events did not, so only they are retried.
                untried = RetryableError("not sent: an earlier event failed", destination=self.name)
                failures: dict[int, DeliveryError] = dict.fromkeys(range(len(batch)), untried)
                for _, _, delivered in requests[:position]:
                    for index in delivered:
                        del failures[index]
                failures.update(dict.fromkeys(indexes, exc))
                raise PartialDeliveryError(
                    f"{len(failures)} of {len(batch)} events not accepted by {self.name}",
                    destination=self.name,
                    failures=failures,
                ) from exc

    def _requests(self, batch: Sequence[EncodedEvent]) -> list[tuple[str, bytes, list[int]]]:
        """The POSTs that deliver ``batch``: (URL, body, indexes of the events it carries)."""
        events = list(range(len(batch)))
        vulnerabilities = [i for i in events if is_custom_vulnerability(batch[i].payload)]
        if vulnerabilities:
            marked = set(vulnerabilities)
            events = [i for i in events if i not in marked]
        requests: list[tuple[str, bytes, list[int]]] = []
        if self._batch_url is not None and (self.bulk or len(events) > 1):
            if events:
                body = encode_json_array([batch[i].payload for i in events])
                requests.append((self._batch_url, body, events))
        else:
            requests.extend((self._url, batch[i].payload, [i]) for i in events)
        # loginput's /custom/<app> takes one JSON object a request.
        requests.extend(
            (self._vulnerability_url, unmark_custom_vulnerability(batch[i].payload), [i])
            for i in vulnerabilities
        )
        return requests

    def close(self) -> None:
        # The pool is shared; idle connections are closed with the process.
        pass

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        with deadline(self._total_timeout) as limit:
            with translating(
                HTTP_FAILURES,
                self.name,
                secrets=self._secrets,
                # urllib3's exceptions carry the URL (and its query): never chain them.
                keep_cause=False,
                unwrap=_unwrap,
                # Whatever broke, a request cut short by the deadline says so.
                decide=lambda _: self._deadline_error() if limit.fired else None,
                detail=_detail,
            ):
                # Looked up per request, not kept: a forked child must get its own
                # pool, never write on the parent's pooled sockets.
                response = POOLS.get(self._options.tls_options).request(
                    "POST",
                    url,
                    body=body,
                    headers=dict(headers),
                    timeout=self._timeout,
                    retries=_NO_RETRIES,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                )
            if limit.fired:
                # Cut short by the deadline while its headers came: a truncated
                # head can parse as a whole one ("200 OK" and half a header).
                _release(response)
                raise self._deadline_error()
            try:
                # Read even a 2xx answer's (short) body: a connection is kept
                # for the next request only when nothing of the answer is left.
                text = _read_some(response)
            finally:
                _release(response)
            if 200 <= response.status < 300:
                return
            raise self._status_error(response, text.decode("utf-8", "replace"))

    def _deadline_error(self) -> RetryableError:
        return RetryableError(
            f"{self.name} did not answer completely within the total deadline of "
            f"{self._total_timeout:g} s (total_timeout)",
            destination=self.name,
        )

    def _status_error(self, response: urllib3.BaseHTTPResponse, text: str) -> DeliveryError:
        status = response.status
        # A server may echo the credentials it refused; never pass them on.
        # (Scrubbed before cutting, so no prefix of a secret survives.)
        text = redact(text, self._secrets)[:200].strip()
        message = f"POST {self.name} answered HTTP {status}" + (f": {text}" if text else "")
        if status in RETRYABLE_STATUSES:
            return RetryableError(
                message,
                destination=self.name,
                status=status,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status == 413:
            return EventTooLargeError(message, destination=self.name, status=status)
        return PermanentError(message, destination=self.name, status=status)


def _read_some(response: urllib3.BaseHTTPResponse) -> bytes:
    """Up to :data:`BODY_READ_LIMIT` bytes of the body, for an error message.

    A body that cannot be read (cut, or cut short by the deadline) gives what
    arrived; the status alone decides what happens to the events.
    """
    try:
        data: bytes = response.read(BODY_READ_LIMIT)
    except Exception:
        return b""
    return data


def _release(response: urllib3.BaseHTTPResponse) -> None:
    """Return the connection to the pool only if nothing of the answer is left unread."""
    if not response.closed:
        # Unread body (a huge or endless one, or one we never asked for):
        # reading it would cost memory or time; drop the connection instead.
        response.close()
    response.release_conn()


def _unwrap(exc: BaseException) -> BaseException:
    """What went wrong: urllib3 wraps it in a MaxRetryError even with retries off."""
    return exc.reason or exc if isinstance(exc, MaxRetryError) else exc


def _detail(exc: BaseException) -> str:
    """The useful part of a urllib3 exception's text."""
    if isinstance(exc, ProtocolError) and exc.args and isinstance(exc.args[-1], BaseException):
        # ProtocolError("Connection aborted.", RemoteDisconnected("..."))
        exc = exc.args[-1]
    text = str(exc) or type(exc).__name__
    # NewConnectionError("HTTPConnection(...): Failed to establish ...: [Errno 111] ...")
    return text.split(": ", 1)[-1] if "Failed to establish" in text else text


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, Retry(0).parse_retry_after(value))
    except InvalidHeader:
        return None
