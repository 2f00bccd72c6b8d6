"""mozdef_client: get security events from Python programs into MozDef.

Modern API::

    from mozdef_client import Client, Event, Severity
    client = Client("https://mozdef.example.com/events")
    client.send(Event(summary="login failed", severity=Severity.WARNING))

The mozdef_client 1.1 classes (``MozDefEvent`` and friends) keep working.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
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

# Each public name's module is imported when the name is first used, not by
# "import mozdef_client": so "import mozdef_client.cli" (the command) and
# "mozdef-client --help" do not load urllib3, sqlite3 and every transport.
_MODULE_OF = {
    "Client": ".client",
    "prepare": ".client",
    "DeadLetter": ".delivery",
    "DeliveryOptions": ".delivery",
    "DestinationStats": ".delivery",
    "RetryPolicy": ".delivery",
    "Stats": ".delivery",
    "encode_document": ".encoding",
    "ConfigurationError": ".errors",
    "DeliveryError": ".errors",
    "EncodingError": ".errors",
    "EventTooLargeError": ".errors",
    "MozDefError": ".errors",
    "PermanentError": ".errors",
    "RetryableError": ".errors",
    "SpoolError": ".errors",
    "SpoolFullError": ".errors",
    "ValidationError": ".errors",
    "DocumentEvent": ".event",
    "Event": ".event",
    "Kind": ".event",
    "VulnerabilityEvent": ".event",
    "MozDefHandler": ".handler",
    "MozDefAssetHint": ".legacy",
    "MozDefCompliance": ".legacy",
    "MozDefEvent": ".legacy",
    "MozDefMessage": ".legacy",
    "MozDefMsg": ".legacy",
    "MozDefRRA": ".legacy",
    "MozDefVulnerability": ".legacy",
    "Facility": ".severity",
    "Severity": ".severity",
    "MozDefProcessor": ".structlog_processor",
    "AMQPOptions": ".transports",
    "AMQPTransport": ".transports",
    "EncodedEvent": ".transports",
    "FileTransport": ".transports",
    "HTTPOptions": ".transports",
    "HTTPTransport": ".transports",
    "PartialDeliveryError": ".transports",
    "RemoteSyslogOptions": ".transports",
    "RemoteSyslogTransport": ".transports",
    "SQSOptions": ".transports",
    "SQSTransport": ".transports",
    "SyslogOptions": ".transports",
    "SyslogTransport": ".transports",
    "TLSOptions": ".transports",
    "Transport": ".transports",
    "validate_document": ".validation",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


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
