"""Transports: one wire each (HTTP, syslog, SQS, file), no queues or retries."""

from .base import EncodedEvent, PartialDeliveryError, Transport
from .file import FileTransport
from .http import HTTPOptions, HTTPTransport
from .sqs import SQSOptions, SQSTransport
from .syslog import SyslogOptions, SyslogTransport

__all__ = [
    "EncodedEvent",
    "FileTransport",
    "HTTPOptions",
    "HTTPTransport",
    "PartialDeliveryError",
    "SQSOptions",
    "SQSTransport",
    "SyslogOptions",
    "SyslogTransport",
    "Transport",
]
