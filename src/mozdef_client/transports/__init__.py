"""Transports: one wire each (HTTP, syslog, SQS, AMQP, file), no queues or retries."""

from ._tls import TLSOptions
from .amqp import AMQPOptions, AMQPTransport
from .base import EncodedEvent, PartialDeliveryError, Transport
from .file import FileTransport
from .http import HTTPOptions, HTTPTransport
from .remote_syslog import RemoteSyslogOptions, RemoteSyslogTransport
from .sqs import SQSOptions, SQSTransport
from .syslog import SyslogOptions, SyslogTransport

__all__ = [
    "AMQPOptions",
    "AMQPTransport",
    "EncodedEvent",
    "FileTransport",
    "HTTPOptions",
    "HTTPTransport",
    "PartialDeliveryError",
    "RemoteSyslogOptions",
    "RemoteSyslogTransport",
    "SQSOptions",
    "SQSTransport",
    "SyslogOptions",
    "SyslogTransport",
    "TLSOptions",
    "Transport",
]
