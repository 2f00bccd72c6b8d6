"""The exceptions mozdef_client raises.

Everything the library raises on purpose is a :class:`MozDefError`, so a
caller can catch one class. Whether a delivery failure is worth retrying is
decided by the class, never by parsing a message::

    MozDefError
    ├── ValidationError (also ValueError)     the event breaks MozDef's format
    │   └── EncodingError                     a value cannot become JSON
    ├── ConfigurationError (also ValueError)  a bad option, URL or severity
    ├── SpoolError                            the on-disk spool cannot take the event
    │   └── SpoolFullError                    the spool is at its byte cap
    ├── DeliveryError                         the destination did not take it
    │   ├── RetryableError                    try again later (timeouts, 5xx, 429)
    │   ├── PermanentError                    retrying cannot help (4xx)
    │   │   └── EventTooLargeError            over the transport's size limit
    │   ├── PartialDeliveryError              some events of a batch arrived, some not
    │   └── DroppedError                      counted as dropped, never raised to callers
    └── EventDroppedError                     a log record's event was not queued

    ForeignCause (Exception only)             a secret-free stand-in for a foreign
                                              exception, chained as the cause

Two more belong to a face and never reach a caller of the library, so they
are not exported (not in ``__all__``)::

    UsageError (Exception only)               bad ``mozdef-client`` flags or input:
                                              the CLI exits 2, nothing sent
    BulkBodyError (also ValueError)           a ``/_bulk`` body MozDef would mangle:
                                              the development receiver answers 400

Every class lives here; ``transports.base`` and ``log_mapping`` re-export the
ones they used to define, so old imports keep working (as ``cli.send`` and
``receiver.intake`` do for the two above).

Messages never contain credentials or header values: a delivery error's
message passes through :func:`mozdef_client._redact.redact` (userinfo and
query values of URLs removed), and transports scrub the header values they
know of before they build one. Errors raised for a foreign exception (urllib3,
pika, botocore, OSError) are raised from a cause that carries no secret.
"""

from __future__ import annotations

from ._redact import redact

__all__ = [
    "ConfigurationError",
    "DeliveryError",
    "DroppedError",
    "EncodingError",
    "EventDroppedError",
    "EventTooLargeError",
    "ForeignCause",
    "MozDefError",
    "PartialDeliveryError",
    "PermanentError",
    "RetryableError",
    "SpoolError",
    "SpoolFullError",
    "ValidationError",
]


class MozDefError(Exception):
    """Base class of every error mozdef_client raises on purpose."""

    @property
    def msg(self) -> str:
        """The message; mozdef_client 1.1 programs read it as ``error.msg``."""
        return str(self)


class ValidationError(MozDefError, ValueError):
    """The event does not follow MozDef's format.

    ``path`` is the dotted field path at fault, e.g. ``details.check.test.value``.
    """

    def __init__(self, message: str, path: str = "") -> None:
        # A path may hold a lone surrogate (the very fault being reported);
        # escape it so the message can be printed and logged.
        super().__init__(message.encode("utf-8", "backslashreplace").decode("utf-8"))
        self.path = path


class EncodingError(ValidationError):
    """A value in the event cannot be encoded as JSON (NaN, bad UTF-8, ...)."""


class ConfigurationError(MozDefError, ValueError):
    """An option, destination URL, severity or facility is not valid."""


class SpoolError(MozDefError):
    """The durable spool cannot commit the event (disk full, read-only, corrupt)."""


class SpoolFullError(SpoolError):
    """The durable spool is at its byte cap; the event was not committed."""


class DeliveryError(MozDefError):
    """A destination did not acknowledge the events.

    ``destination`` names where it went (never with credentials); ``status`` is
    the HTTP status code when there was one.
    """

    def __init__(self, message: str, *, destination: str = "", status: int | None = None) -> None:
        super().__init__(redact(message))
        self.destination = destination
        self.status = status


class RetryableError(DeliveryError):
    """A failure that may pass: refused connection, timeout, 408, 429, 5xx.

    ``retry_after`` is the delay in seconds the server asked for, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        destination: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, destination=destination, status=status)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """A failure that retrying the same events cannot fix (most 4xx answers)."""


class EventTooLargeError(PermanentError):
    """An event, or a batch, is over what the destination accepts (or HTTP 413)."""


class DroppedError(DeliveryError):
    """A transport set to drop rather than fail (the legacy face's local
    syslog, as 1.1 behaved) could not deliver.

    Clients never raise it: they count the events as dropped for ``reason``
    in their stats and go on with the other destinations.
    """

    def __init__(self, message: str, *, destination: str = "", reason: str = "unavailable") -> None:
        super().__init__(message, destination=destination)
        self.reason = reason


class PartialDeliveryError(DeliveryError):
    """Some events of a batch were acknowledged, others were not.

    ``failures`` maps the index of each failed event in the batch to its error
    (a :class:`RetryableError` or :class:`PermanentError`); the rest arrived.
    """

    def __init__(
        self, message: str, *, destination: str, failures: dict[int, DeliveryError]
    ) -> None:
        super().__init__(message, destination=destination)
        self.failures = failures


class EventDroppedError(MozDefError):
    """The client did not queue a log event (full queue, closed client)."""


class ForeignCause(Exception):
    """Stands for a foreign exception whose text or attributes may hold secrets.

    urllib3's exceptions carry the request URL (``?token=...``) and the
    connection pool; a traceback would print them. The error we raise is
    chained to this instead: the foreign exception's type and redacted text.
    It is no MozDefError: it is never raised, only seen as a ``__cause__``.
    """


class UsageError(Exception):
    """Bad flags or input for one event: the CLI exits 2 and sends nothing."""


class BulkBodyError(ValueError):
    """A ``/_bulk`` body MozDef's loginput would turn into junk while answering 200.

    The development receiver answers 400 with this message, so the mistake
    shows in development instead of as lost events in production.
    """
