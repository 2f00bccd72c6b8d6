"""mozdef_client: get security events from Python programs into MozDef.

Modern API::

    from mozdef_client import Client, Event, Severity
    client = Client("https://mozdef.example.com/events")
    client.send(Event(summary="login failed", severity=Severity.WARNING))

The mozdef_client 1.1 classes (``MozDefEvent`` and friends) keep working.
"""

from ._version import __version__
from .client import Client, prepare
from .delivery import DeadLetter, DeliveryOptions, DestinationStats, RetryPolicy, Stats
from .encoding import encode_document
from .errors import (
    ConfigurationError,
    DeliveryError,
    EncodingError,
    EventTooLargeError,
    MozDefError,
    PermanentError,
    RetryableError,
    SpoolError,
    SpoolFullError,
    ValidationError,
)
from .event import DocumentEvent, Event, Kind, VulnerabilityEvent
from .handler import MozDefHandler
from .legacy import (
    MozDefAssetHint,
    MozDefCompliance,
    MozDefEvent,
    MozDefMessage,
    MozDefMsg,
    MozDefRRA,
    MozDefVulnerability,
)
from .severity import Facility, Severity
from .structlog_processor import MozDefProcessor
from .transports import (
    AMQPOptions,
    AMQPTransport,
    EncodedEvent,
    FileTransport,
    HTTPOptions,
    HTTPTransport,
    PartialDeliveryError,
    RemoteSyslogOptions,
    RemoteSyslogTransport,
    SQSOptions,
    SQSTransport,
    SyslogOptions,
    SyslogTransport,
    TLSOptions,
    Transport,
)
from .validation import validate_document

__all__ = [
    "AMQPOptions",
    "AMQPTransport",
    "Client",
    "ConfigurationError",
    "DeadLetter",
    "DeliveryError",
    "DeliveryOptions",
    "DestinationStats",
    "DocumentEvent",
    "EncodedEvent",
    "EncodingError",
    "Event",
    "EventTooLargeError",
    "Facility",
    "FileTransport",
    "HTTPOptions",
    "HTTPTransport",
    "Kind",
    "MozDefAssetHint",
    "MozDefCompliance",
    "MozDefError",
    "MozDefEvent",
    "MozDefHandler",
    "MozDefMessage",
    "MozDefMsg",
    "MozDefProcessor",
    "MozDefRRA",
    "MozDefVulnerability",
    "PartialDeliveryError",
    "PermanentError",
    "RemoteSyslogOptions",
    "RemoteSyslogTransport",
    "RetryPolicy",
    "RetryableError",
    "SQSOptions",
    "SQSTransport",
    "Severity",
    "SpoolError",
    "SpoolFullError",
    "Stats",
    "SyslogOptions",
    "SyslogTransport",
    "TLSOptions",
    "Transport",
    "ValidationError",
    "VulnerabilityEvent",
    "__version__",
    "encode_document",
    "prepare",
    "validate_document",
]
