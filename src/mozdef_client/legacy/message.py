"""MozDefMessage: the base of the 1.1 classes, their destination settings and delivery.

Every message goes to a :class:`Client` shared process-wide per configuration
(see :mod:`._clients`); a fire-and-forget one to a background client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from ..client import Client, prepare
from ..errors import ConfigurationError, DeliveryError, MozDefError, ValidationError
from ..event import DocumentEvent, Event, default_hostname
from ..severity import Facility
from ..transports.base import EncodedEvent, Transport
from ..transports.http import HTTPOptions, HTTPTransport, redact_url
from ..transports.sqs import SQSOptions, SQSTransport
from ..transports.syslog import SyslogOptions, SyslogTransport
from ._clients import shared_client
from ._support import FACILITY_MAP, also_botocore, from_botocore

__all__ = ["MozDefMessage", "logger"]

# The name the face logged under as one module; programs and tests filter on it.
logger = logging.getLogger("mozdef_client.legacy")

_DEFAULT_HTTP = HTTPOptions()


class MozDefMessage:
    """Base of the 1.1 message classes: destination flags and ``send()``."""

    MSGTYPE_NONE = 0
    MSGTYPE_EVENT = 1
    MSGTYPE_COMPLIANCE = 2
    MSGTYPE_VULNERABILITY = 3
    MSGTYPE_ASSETHINT = 4
    MSGTYPE_RRA = 5

    #: The local syslog socket; a class attribute so tests and unusual hosts
    #: can point every message elsewhere (``set_syslog_socket`` for one).
    _syslog_socket_path = "/dev/log"

    #: Upstream master's facility names, as ``set_facility_from_string`` takes them.
    _facilitymap: ClassVar[dict[str, int]] = FACILITY_MAP

    def __init__(self, url: str) -> None:
        self._msgtype = self.MSGTYPE_NONE
        self._url = url
        self.log: dict[str, Any] = {}
        self._sendlog = {}
        self.hostname = default_hostname()
        self._send_to_syslog = False
        self._syslog_only = False
        self._send_to_sqs = False
        self._sqs_queue_name: str | None = None
        self._sqs_region: str | None = None
        self._sqs_aws_account_id: str | None = None
        self._sqs_endpoint_url: str | None = None
        self._fire_and_forget = False
        self._verify_certificate = True
        self._verify_path: str | None = None
        # syslog.LOG_USER, as upstream master set it.
        self._facility: Facility | str | int = FACILITY_MAP["user"]
        self._headers: dict[str, str] = {}
        self._timeouts = (_DEFAULT_HTTP.connect_timeout, _DEFAULT_HTTP.read_timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self._url)!r})"

    # 1.1's constructed document. After MozDefEvent's send() it is the JSON
    # that was sent, decoded only when a program reads it: the hot path then
    # neither copies the caller's data nor builds a second document.
    @property
    def _sendlog(self) -> Any:
        if self._sent_json is not None:
            self._sendlog_value = json.loads(self._sent_json)
            self._sent_json = None
        return self._sendlog_value

    @_sendlog.setter
    def _sendlog(self, document: Any) -> None:
        self._sendlog_value = document
        self._sent_json = None

    _sendlog_value: Any = None
    _sent_json: bytes | None = None

    # -- 1.1 setters -----------------------------------------------------

    def validate(self) -> bool:
        """Whether the message may be constructed, as 1.1 checked it.

        True or False, never an exception: programs write
        ``if msg.validate(): msg.send()``. ``send()`` of a message this
        refuses raises a :class:`ValidationError` naming the field.
        """
        return self._invalid() is None

    def _invalid(self) -> ValidationError | None:
        """What 1.1's ``validate()`` refused, as an error naming the field; None if valid."""
        return None

    def validate_log(self) -> bool:
        """Whether the constructed document is valid; subclasses refine it."""
        return True

    def syslog_convert(self) -> str:
        """1.1 raised here for every message type but events; so does this."""
        raise MozDefError(f"{type(self).__name__} does not support syslog conversion")

    @property
    def _httpsession(self) -> Any:
        """Removed: 1.1's requests session; says what replaces it."""
        raise MozDefError(
            "_httpsession (1.1's requests session) was removed in mozdef_client 2: HTTP "
            "goes through a shared urllib3 pool; use set_http_headers(), set_timeout(), "
            "set_verify() and set_verify_path() for what it was used for"
        )

    def send_syslog(self) -> None:
        """Removed: 1.1's internal step of ``send()``; says what to call instead."""
        raise MozDefError(
            "send_syslog() was removed in mozdef_client 2: call "
            "set_send_to_syslog(True, only_syslog=True), then send()"
        )

    def send_sqs(self) -> None:
        """Removed: 1.1's internal step of ``send()``; says what to call instead."""
        raise MozDefError(
            "send_sqs() was removed in mozdef_client 2: call set_send_to_sqs(True), then send()"
        )

    def set_verify(self, verify: bool) -> None:
        """Check the server's TLS certificate (on by default, unlike 1.1)."""
        self._verify_certificate = bool(verify)

    def set_verify_path(self, path: str) -> None:
        """Trust the CAs in the PEM file ``path`` instead of the system's."""
        self._verify_path = path

    def set_fire_and_forget(self, enabled: bool) -> None:
        """Queue events for background delivery; ``send()`` never raises delivery failures.

        Invalid events and settings still raise.
        """
        self._fire_and_forget = bool(enabled)

    def set_send_to_syslog(self, enabled: bool, only_syslog: bool = False) -> None:
        self._send_to_syslog = bool(enabled)
        self._syslog_only = bool(only_syslog)

    def set_syslog_socket(self, path: str) -> None:
        """Write syslog messages to the unix socket ``path`` (default ``/dev/log``)."""
        self._syslog_socket_path = path

    def set_syslog_facility(self, facility: Facility | str | int) -> None:
        """Syslog facility: a name (``"local0"``) or a ``syslog.LOG_*`` value."""
        self._facility = Facility.parse(facility)

    def set_facility_from_string(self, name: str) -> None:
        """Syslog facility by name, any case (upstream master's method, after 1.1).

        Takes the names of :attr:`_facilitymap` and stores the ``syslog.LOG_*``
        value, as master did; an unknown name raises ``ConfigurationError``
        (master silently kept the previous facility).
        """
        key = name.lower() if isinstance(name, str) else None
        if key is None or key not in FACILITY_MAP:
            raise ConfigurationError(
                f"unknown syslog facility {name!r}; use one of {', '.join(FACILITY_MAP)}"
            )
        self._facility = FACILITY_MAP[key]

    def set_send_to_sqs(self, enabled: bool) -> None:
        self._send_to_sqs = bool(enabled)

    def set_sqs_queue_name(self, name: str | None) -> None:
        self._sqs_queue_name = name

    def set_sqs_region(self, region: str | None) -> None:
        self._sqs_region = region

    def set_sqs_aws_account_id(self, account_id: str | int | None) -> None:
        """The queue owner's account; not needed for a queue in your own account."""
        self._sqs_aws_account_id = None if account_id is None else str(account_id)

    def set_sqs_endpoint_url(self, url: str) -> None:
        """Use another SQS endpoint (a local test server, a VPC endpoint)."""
        self._sqs_endpoint_url = url

    def set_timeout(self, connect: float, read: float) -> None:
        """HTTP connect and read timeouts in seconds (1.1 had none: it could wait forever)."""
        self._timeouts = (connect, read)

    def set_http_headers(self, headers: Mapping[str, str]) -> None:
        """Extra HTTP headers, e.g. ``Authorization``; never logged or shown."""
        self._headers = dict(headers)

    # -- building and sending ----------------------------------------------

    def construct(self) -> None:
        raise MozDefError(f"{type(self).__name__} must override construct()")

    def _core_event(self) -> Event | DocumentEvent:
        """The constructed ``_sendlog`` as a core event (a generic document here)."""
        return DocumentEvent(self._sendlog)

    def send(self) -> None:
        """Validate, build and deliver the message now.

        A local syslog that is missing or refuses does not raise (1.1 never
        did): the library's logger warns once, the event is counted as
        dropped there, and it still goes to the other destinations.

        Raises:
            ValidationError: the message is invalid (the message names the
                field where it can); nothing was sent.
            ConfigurationError: a setting (severity, facility, SQS queue, CA
                file) is not valid; nothing was sent.
            DeliveryError: a destination failed (unless fire-and-forget is on).
                An SQS failure is also an instance of the botocore exception
                behind it (``ClientError``), which 1.1 let through.
        """
        if not self.validate():
            raise self._invalid() or ValidationError(
                f"{type(self).__name__}.validate() returned False"
            )
        self.construct()
        if not self.validate_log():
            # The core's validation names the field; a subclass's own
            # validate_log() may still refuse what the core accepts.
            prepare(self._core_event())
            raise ValidationError(f"{type(self).__name__} failed post-construct validation")
        self._deliver(prepare(self._core_event()))

    def _deliver(self, encoded: EncodedEvent) -> None:
        """Send a validated, encoded event now, or queue it (fire-and-forget)."""
        if not self._fire_and_forget:
            try:
                self._client().send_encoded(encoded)
            except DeliveryError as exc:
                botocore_error = exc.__cause__
                if botocore_error is None or not from_botocore(botocore_error):
                    raise
                raise also_botocore(exc, botocore_error) from botocore_error
            return
        # Queued for a process-wide background client: no network I/O here,
        # and what is queued is flushed at exit. A bad setting (facility, CA
        # file, SQS queue) raises here: it is the caller's bug, not the network's.
        client = shared_client(self._config_key(), self._destinations, "background")
        try:
            client.send_encoded(encoded)
        except Exception as exc:  # fire-and-forget: the caller asked never to see it
            logger.warning("fire-and-forget MozDef event not delivered: %s", exc)

    def _destinations(self) -> list[Transport]:
        transports: list[Transport] = []
        if self._send_to_syslog:
            transports.append(SyslogTransport(SyslogOptions(
                socket_path=self._syslog_socket_path,
                facility=Facility.parse(self._facility),
                # 1.1's syslog.syslog() never failed: warn, count, go on.
                when_unavailable="drop",
            )))  # fmt: skip
            if self._syslog_only:
                return transports
        if self._send_to_sqs:
            if not self._sqs_queue_name:
                raise ConfigurationError("SQS delivery needs set_sqs_queue_name()")
            transports.append(SQSTransport(SQSOptions(
                queue_name=self._sqs_queue_name,
                region=self._sqs_region,
                account_id=self._sqs_aws_account_id,
                endpoint_url=self._sqs_endpoint_url,
            )))  # fmt: skip
            return transports
        transports.append(HTTPTransport(self._url, self._http_options()))
        return transports

    def _http_options(self) -> HTTPOptions:
        return HTTPOptions(
            verify=self._verify_certificate,
            ca_bundle=self._verify_path if self._verify_certificate else None,
            headers=self._headers,
            connect_timeout=self._timeouts[0],
            read_timeout=self._timeouts[1],
        )

    def _config_key(self) -> tuple[Any, ...]:
        """Everything that decides where and how a message goes."""
        return (
            self._url, self._send_to_syslog, self._syslog_only, self._syslog_socket_path,
            str(self._facility), self._send_to_sqs, self._sqs_queue_name, self._sqs_region,
            self._sqs_aws_account_id, self._sqs_endpoint_url, self._verify_certificate,
            self._verify_path, tuple(sorted(self._headers.items())), self._timeouts,
        )  # fmt: skip

    def _client(self) -> Client:
        # One Client per configuration, shared by every message object of the
        # process: a new MozDefEvent per event (the usual 1.1 pattern) reuses
        # pooled connections and the SQS queue URL instead of building anew.
        return shared_client(self._config_key(), self._destinations, "sync")
