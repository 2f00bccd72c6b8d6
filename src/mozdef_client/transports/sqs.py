"""AWS SQS transport (needs the ``sqs`` extra: boto3).

One JSON event per message body, as MozDef's SQS input expects. Sizes are
checked in UTF-8 bytes before anything is sent; a batch uses
``SendMessageBatch`` (10 entries, 256 KiB at most) and reports per-entry
failures, so only those need sending again.

botocore's ``connect_timeout`` and ``read_timeout`` bound each connect and
each read, not a call: an endpoint that trickles its answer holds one for
good. Each ``send()`` therefore has a total deadline (``total_timeout``),
kept by the deadline watchdog that also bounds HTTP requests: the client's
connections put themselves under it (:func:`_watch_connections`).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._checks import is_number
from ..errors import (
    ConfigurationError,
    DeliveryError,
    EventTooLargeError,
    PermanentError,
    RetryableError,
)
from ._deadline import Deadline, WatchedConnection, deadline
from ._failures import CATCH_ALL, Rule, translating
from .base import EncodedEvent, PartialDeliveryError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = [
    "SQS_MAX_BATCH_BYTES",
    "SQS_MAX_BATCH_ENTRIES",
    "SQS_MAX_BODY_BYTES",
    "SQSOptions",
    "SQSTransport",
    "sqs_failures",
]  # fmt: skip

SQS_MAX_BODY_BYTES = 256 * 1024
SQS_MAX_BATCH_ENTRIES = 10
SQS_MAX_BATCH_BYTES = 256 * 1024

_NEEDS_BOTO3 = "SQS delivery needs boto3: pip install 'mozdef-client[sqs]'"

# AWS error codes that sending again later can fix; the rest are permanent.
_RETRYABLE_CODES = frozenset({
    "ServiceUnavailable", "InternalError", "InternalFailure", "RequestThrottled",
    "Throttling", "ThrottlingException", "ThrottledException", "RequestTimeout",
    "KmsThrottled", "KMSThrottlingException", "SlowDown", "RequestLimitExceeded",
})  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class SQSOptions:
    """Which queue, and how to reach it.

    Args:
        queue_name: the queue's name.
        region: the AWS region (default: boto3's configuration).
        account_id: the queue owner's account, when it is not the caller's.
        endpoint_url: another SQS endpoint (e.g. a local test server).
        total_timeout: the most seconds one ``send()`` may take in all
            (looking up the queue, every call, botocore's own retry); past it
            :class:`RetryableError` (or :class:`PartialDeliveryError` when
            some calls of the batch went through).
    """

    queue_name: str
    region: str | None = None
    account_id: str | None = None
    endpoint_url: str | None = None
    total_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.queue_name, str) or not self.queue_name:
            raise ConfigurationError("SQS queue_name must be a non-empty string")
        if self.account_id is not None and not (
            isinstance(self.account_id, str) and self.account_id.isdigit()
        ):
            raise ConfigurationError("SQS account_id must be a string of digits")
        if not is_number(self.total_timeout, above=0):
            raise ConfigurationError("SQS total_timeout must be a positive number of seconds")


class SQSTransport:
    """Sends events to an SQS queue."""

    def __init__(self, options: SQSOptions) -> None:
        # Refused now, like amqp:// without pika: not at the first send, where
        # it would be retried (and logged) without end.
        if importlib.util.find_spec("boto3") is None:
            raise ConfigurationError(_NEEDS_BOTO3)
        self._options = options
        self.name = f"sqs://{options.queue_name}"
        self._lock = threading.Lock()
        self._client: SQSClient | None = None
        self._queue_url: str | None = None

    def __repr__(self) -> str:
        return f"SQSTransport({self._options.queue_name!r}, region={self._options.region!r})"

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        bodies = [_message_body(event.payload) for event in batch]
        for index, body in enumerate(bodies):
            size = len(body.encode("utf-8"))
            if size > SQS_MAX_BODY_BYTES:
                raise EventTooLargeError(
                    f"event {index} is {size} bytes in UTF-8; an SQS message "
                    f"body holds at most {SQS_MAX_BODY_BYTES}",
                    destination=self.name,
                )
        if not batch:
            return
        with deadline(self._options.total_timeout) as limit:
            self._send(bodies, limit)

    def _send(self, bodies: Sequence[str], limit: Deadline) -> None:
        client, queue_url = self._connected(limit)
        if len(bodies) == 1:
            self._call(limit, client.send_message, QueueUrl=queue_url, MessageBody=bodies[0])
            return
        failures: dict[int, DeliveryError] = {}
        call_errors: list[DeliveryError] = []
        for start, chunk in _chunks(bodies):
            entries: list[Any] = [
                {"Id": str(start + offset), "MessageBody": body}
                for offset, body in enumerate(chunk)
            ]
            try:
                if limit.fired:
                    raise self._deadline_error()
                result = self._call(
                    limit, client.send_message_batch, QueueUrl=queue_url, Entries=entries
                )
            except DeliveryError as exc:
                call_errors.append(exc)
                failures.update({start + offset: exc for offset in range(len(chunk))})
                continue
            for failed in result.get("Failed", []):
                error_class = PermanentError if failed.get("SenderFault") else RetryableError
                failures[int(failed["Id"])] = error_class(
                    f"{self.name} refused an entry: {failed.get('Code')}: {failed.get('Message')}",
                    destination=self.name,
                )
        if call_errors and len(failures) == len(bodies):
            # Nothing arrived: the call's own (retryable or permanent) error says
            # more than a partial failure would.
            raise call_errors[0]
        if failures:
            raise PartialDeliveryError(
                f"{len(failures)} of {len(bodies)} events were not accepted by {self.name}",
                destination=self.name,
                failures=failures,
            )

    def close(self) -> None:
        with self._lock:
            self._client = None
            self._queue_url = None

    def _connected(self, limit: Deadline) -> tuple[SQSClient, str]:
        with self._lock:
            if self._client is None or self._queue_url is None:
                client = self._call(limit, _make_client, options=self._options)
                lookup: dict[str, str] = {"QueueName": self._options.queue_name}
                if self._options.account_id:
                    lookup["QueueOwnerAWSAccountId"] = self._options.account_id
                response = self._call(limit, client.get_queue_url, **lookup)
                queue_url = response.get("QueueUrl")
                if not isinstance(queue_url, str):
                    # Something other than SQS answered (a proxy, a captive portal).
                    raise RetryableError(
                        f"{self.name}: the endpoint's answer to GetQueueUrl has no QueueUrl",
                        destination=self.name,
                    )
                self._client, self._queue_url = client, queue_url
            return self._client, self._queue_url

    def _deadline_error(self) -> RetryableError:
        return RetryableError(
            f"{self.name} did not answer completely within the total deadline of "
            f"{self._options.total_timeout:g} s (total_timeout)",
            destination=self.name,
        )

    def _call(self, limit: Deadline, method: Any, **kwargs: Any) -> Any:
        """Call a boto3 method, translating botocore's errors into ours."""
        try:
            from botocore.exceptions import ClientError
        except ImportError as exc:
            raise ConfigurationError(_NEEDS_BOTO3) from exc

        def decide(exc: BaseException) -> DeliveryError | None:
            if limit.fired:
                # Whatever broke, a call cut short by the deadline says so.
                return self._deadline_error()
            # An answer from AWS: its error code says whether it may pass.
            if not isinstance(exc, ClientError):
                return None
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = f"{self.name}: {code}: {exc.response.get('Error', {}).get('Message', '')}"
            retryable = code in _RETRYABLE_CODES or (isinstance(status, int) and status >= 500)
            error_class = RetryableError if retryable else PermanentError
            return error_class(message, destination=self.name, status=status)

        with translating(sqs_failures(), self.name, decide=decide):
            result = method(**kwargs)
        if limit.fired:
            # Cut short while the answer came: a truncated one may parse.
            raise self._deadline_error()
        return result


@functools.cache
def sqs_failures() -> tuple[Rule, ...]:
    """botocore's and the socket's exceptions, and what they become (first match).

    A ``ClientError`` (an answer from AWS) is decided by its error code instead.
    """
    from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError
    from botocore.parsers import ResponseParserError

    return (
        Rule((NoCredentialsError, NoRegionError), PermanentError, "cannot use"),
        Rule((BotoCoreError,), RetryableError, "could not talk to"),
        # An answer botocore could not parse (a proxy's error page) is not a
        # BotoCoreError.
        Rule((ResponseParserError,), RetryableError, "could not understand the answer of"),
        Rule((OSError,), RetryableError, "could not talk to"),
        CATCH_ALL,
    )


def _message_body(payload: bytes) -> str:
    """The JSON text as SQS takes it.

    SQS refuses U+FFFE and U+FFFF in a body, though JSON allows them raw; they
    can only occur inside JSON strings, where a ``\\uXXXX`` escape means the same.
    """
    text = payload.decode("utf-8")
    if "\ufffe" in text or "\uffff" in text:
        text = text.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")
    return text


def _chunks(bodies: Sequence[str]) -> list[tuple[int, Sequence[str]]]:
    """Split into SendMessageBatch calls: at most 10 entries and 256 KiB each."""
    chunks: list[tuple[int, Sequence[str]]] = []
    start, size = 0, 0
    for index, body in enumerate(bodies):
        count = index - start
        length = len(body.encode("utf-8"))
        too_big = size + length > SQS_MAX_BATCH_BYTES
        if count and (count == SQS_MAX_BATCH_ENTRIES or too_big):
            chunks.append((start, bodies[start:index]))
            start, size = index, 0
        size += length
    chunks.append((start, bodies[start:]))
    return chunks


def _make_client(options: SQSOptions) -> SQSClient:
    try:
        import boto3
    except ImportError as exc:
        raise ConfigurationError(_NEEDS_BOTO3) from exc
    from botocore.config import Config

    # The delivery pipeline owns retries; botocore's default (five attempts
    # with backoff, 60 s timeouts) would hold a synchronous send() for minutes.
    kwargs: dict[str, Any] = {
        "config": Config(connect_timeout=5, read_timeout=10,
                         retries={"mode": "standard", "max_attempts": 2})
    }  # fmt: skip
    if options.region:
        kwargs["region_name"] = options.region
    if options.endpoint_url:
        kwargs["endpoint_url"] = options.endpoint_url
    client: SQSClient = boto3.session.Session().client("sqs", **kwargs)
    _watch_connections(client)
    return client


def _watch_connections(client: Any) -> None:
    """Put the client's connections under the calling ``send()``'s deadline.

    botocore offers no bound on a whole call (its Config has per-connect and
    per-read timeouts only) and no way to pass connection classes, so the
    pool classes of the client's own HTTP session are swapped for ones whose
    connections call :func:`watch`. botocore hands that same dict to the
    managers it makes for proxies. Should a botocore release move it, the
    per-read timeouts still hold (tests/test_transport_deadlines.py notices).
    """
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    pools = getattr(session, "_pool_classes_by_scheme", None)
    if isinstance(pools, dict):
        pools.update(_watched_pool_classes())


@functools.cache
def _watched_pool_classes() -> dict[str, type]:
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    # (The ignores: botocore's stubs and http.client's disagree on send().)
    class WatchedAWSHTTPConnection(WatchedConnection, AWSHTTPConnection):  # type: ignore[misc]
        pass

    class WatchedAWSHTTPSConnection(WatchedConnection, AWSHTTPSConnection):  # type: ignore[misc]
        pass

    class WatchedAWSHTTPConnectionPool(AWSHTTPConnectionPool):
        ConnectionCls = WatchedAWSHTTPConnection

    class WatchedAWSHTTPSConnectionPool(AWSHTTPSConnectionPool):
        ConnectionCls = WatchedAWSHTTPSConnection

    return {"http": WatchedAWSHTTPConnectionPool, "https": WatchedAWSHTTPSConnectionPool}
