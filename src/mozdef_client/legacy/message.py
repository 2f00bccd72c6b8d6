"""The mozdef_client 1.1 API, as a face over :class:`Event` and :class:`Client`.

Programs written for 1.1 keep working unchanged: 1.1's own test suite passes
(but for ``str(MozDefError)``), ``validate()`` answers True/False as 1.1 did,
a missing local syslog socket is warned about and counted, never raised, and
SQS failures are still botocore exceptions too. What 1.1 got wrong is fixed
here (each change is listed in docs/migration.md): ``send()`` raises on every
other failure, certificates are verified, plain ``.category``/``.source``/
``.severity`` attributes are honoured, and the caller's dicts are never
mutated. No logic lives only here: documents are built by :class:`Event`,
checked by :mod:`validation`, encoded by :mod:`encoding` and delivered by a
:class:`Client` (one per configuration, shared process-wide: see
:mod:`._clients`; the 1.1-only helpers are in :mod:`._support`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from ..client import Client, prepare
from ..encoding import encode_document
from ..errors import ConfigurationError, DeliveryError, EncodingError, MozDefError, ValidationError
from ..event import DocumentEvent, Event, Kind, VulnerabilityEvent, default_hostname
from ..severity import Facility, Severity
from ..transports.base import EncodedEvent, Transport
from ..transports.http import HTTPOptions, HTTPTransport, redact_url
from ..transports.sqs import SQSOptions, SQSTransport
from ..transports.syslog import SyslogOptions, SyslogTransport
from ..validation import validate_document, validate_event
from ._clients import (
    close_fire_and_forget,
    delivery_stats,
    fire_and_forget_stats,
    flush_fire_and_forget,
    shared_client,
)
from ._support import FACILITY_MAP, also_botocore, from_botocore, snapshot

__all__ = [
    "MozDefAssetHint",
    "MozDefCompliance",
    "MozDefError",
    "MozDefEvent",
    "MozDefMessage",
    "MozDefMsg",
    "MozDefRRA",
    "MozDefVulnerability",
    "close_fire_and_forget",
    "delivery_stats",
    "fire_and_forget_stats",
    "flush_fire_and_forget",
]

# The name the face logged under as one module; programs and tests filter on it.
logger = logging.getLogger("mozdef_client.legacy")

_DEFAULT_HTTP = HTTPOptions()

# 1.1's numeric severities: MozDefEvent.SEVERITY_DEBUG is 0 ... SEVERITY_EMERGENCY 7.
_LEGACY_SEVERITIES = (
    Severity.DEBUG, Severity.INFO, Severity.NOTICE, Severity.WARNING,
    Severity.ERROR, Severity.CRITICAL, Severity.ALERT, Severity.EMERGENCY,
)  # fmt: skip


def resolve_severity(value: object) -> Severity:
    """A 1.1 severity constant, a name (any case, with aliases) or a Severity."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(_LEGACY_SEVERITIES):
            return _LEGACY_SEVERITIES[value]
        raise ConfigurationError(
            f"unknown severity {value!r}; use MozDefEvent.SEVERITY_* or a name such as 'INFO'"
        )
    if isinstance(value, (str, Severity)):
        return Severity.parse(value)
    raise ConfigurationError(f"severity must be a name or a SEVERITY_* constant, not {value!r}")


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


class MozDefEvent(MozDefMessage):
    """A generic event: set ``summary``, ``tags`` and ``details``, then ``send()``."""

    # 1.1's values; SEVERITY_CRIT is the alias its README uses.
    SEVERITY_DEBUG = 0
    SEVERITY_INFO = 1
    SEVERITY_NOTICE = 2
    SEVERITY_WARNING = 3
    SEVERITY_ERROR = 4
    SEVERITY_CRITICAL = 5
    SEVERITY_CRIT = 5
    SEVERITY_ALERT = 6
    SEVERITY_EMERGENCY = 7

    #: 1.1's table of severity constant -> [name, syslog priority].
    _sevmap: ClassVar[dict[int, list[str | int]]] = {
        number: [severity.name, 7 - number]  # syslog.LOG_DEBUG is 7 ... LOG_EMERG 0
        for number, severity in enumerate(_LEGACY_SEVERITIES)
    }

    _kind = Kind.GENERIC

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_EVENT
        self._category = self._kind.default_category
        self._source: str | None = None
        self._severity: int | str | Severity = self.SEVERITY_INFO
        self._process_name = sys.argv[0] if sys.argv and sys.argv[0] else "python"
        self._process_id: int | None = None
        self._updatelog: dict[str, Any] | None = None
        self.timestamp: datetime | str | None = None
        self.summary: str | None = None
        self.tags: list[str] = []
        self.details: dict[str, Any] = {}

    # Plain attributes 1.1 silently ignored; properties so that subclasses
    # overriding them keep working, and the private names stay in step.
    @property
    def category(self) -> str:
        return self._category

    @category.setter
    def category(self, value: str) -> None:
        self._category = value

    @property
    def source(self) -> str | None:
        return self._source

    @source.setter
    def source(self, value: str | None) -> None:
        self._source = value

    @property
    def severity(self) -> int | str | Severity:
        return self._severity

    @severity.setter
    def severity(self, value: int | str | Severity) -> None:
        self._severity = value

    def set_severity(self, severity: int | str | Severity) -> None:
        """A ``SEVERITY_*`` constant or a severity name (``"NOTICE"``, ``"crit"``)."""
        resolve_severity(severity)  # fail here, where the mistake is
        self._severity = severity

    def set_severity_from_string(self, name: str) -> None:
        """Set the severity by name; 1.1 silently took an unknown name as INFO."""
        self._severity = _LEGACY_SEVERITIES.index(Severity.parse(name))

    def set_category(self, category: str) -> None:
        self._category = category

    def set_source(self, source: str | None) -> None:
        self._source = source

    def set_simple_update_log(self, log: dict[str, Any] | None) -> None:
        """Extra fields for the document; the event's own fields take precedence."""
        self._updatelog = log

    def _invalid(self) -> ValidationError | None:
        if self.summary is None or self.summary == "":
            return ValidationError("summary is missing (every event needs a summary)", "summary")
        return None

    def validate_log(self) -> bool:
        try:
            validate_document(self._sendlog, self._kind)
        except MozDefError:
            return False
        return True

    def syslog_convert(self) -> str:
        """The constructed document as JSON, as 1.1 returned it: ``json.dumps(self._sendlog)``.

        Values 1.1 could not convert (a ``datetime`` in details) are converted
        as they are sent. (What goes to syslog is the same document as compact JSON.)

        Raises:
            EncodingError: a value cannot be JSON at all (names the field).
        """
        try:
            return json.dumps(self._sendlog)
        except (TypeError, ValueError, RecursionError):
            return json.dumps(json.loads(encode_document(self._sendlog)))

    def send(
        self,
        timestamp: datetime | str | None = None,
        summary: str | None = None,
        tags: list[str] | None = None,
        details: dict[str, Any] | None = None,
        hostname: str | None = None,
    ) -> None:
        """Send the event; arguments given here replace the attributes for this call only.

        Raises:
            ValidationError: the event is invalid (the message names the field).
            ConfigurationError: an unknown severity or facility, or a bad setting.
            DeliveryError: a destination failed (unless fire-and-forget is on).
        """
        given = {"timestamp": timestamp, "summary": summary, "tags": tags,
                 "details": details, "hostname": hostname}  # fmt: skip
        overrides = {name: value for name, value in given.items() if value is not None}
        saved = {name: getattr(self, name) for name in overrides}
        for name, value in overrides.items():
            setattr(self, name, value)
        try:
            if self._one_path:
                self._send_once()
            else:
                super().send()
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass with its own construct() or validate_log() gets 1.1's
        # steps, in 1.1's order: construct, then its check of _sendlog.
        cls._one_path = (
            cls.construct is MozDefEvent.construct and cls.validate_log is MozDefEvent.validate_log
        )

    _one_path: ClassVar[bool] = True

    def _send_once(self) -> None:
        """Build the event once, validate it once, encode it once, deliver it.

        The encoder snapshots the caller's data, so nothing is deep-copied;
        ``_sendlog`` is decoded from the sent JSON only if a program reads it.
        """
        if not self.validate():
            raise self._invalid() or ValidationError(
                f"{type(self).__name__}.validate() returned False"
            )
        event = self._event_from_attributes()
        validate_event(event)
        document = event.document_for_encoding()
        if self._updatelog:
            document = _with_updatelog(self._updatelog, document)
        if isinstance(self.timestamp, str):
            document["timestamp"] = self.timestamp  # 1.1 sent a string as given
        try:
            payload = encode_document(document)
        except EncodingError:
            raise
        except Exception as exc:
            # What the encoder could not even walk (a mapping that fails when
            # read): the copying walk names the field.
            snapshot(document, "", 0)
            raise EncodingError(f"event cannot be encoded as JSON: {exc}") from exc
        self._sendlog_value = None
        self._sent_json = payload
        self._deliver(EncodedEvent(payload, event.severity))

    def construct(self) -> None:
        event = self._event_from_attributes()
        # Copies: the caller's details and tags are never aliased by _sendlog.
        document = event.to_document()
        if self._updatelog:
            document = _with_updatelog(self._updatelog, document)
        document = snapshot(document, "", 0)
        if isinstance(self.timestamp, str):
            document["timestamp"] = self.timestamp
        self._sendlog = document

    def _event_from_attributes(self) -> Event:
        timestamp = self.timestamp if isinstance(self.timestamp, datetime) else None
        extra = {"timestamp": timestamp} if timestamp is not None else {}
        return Event(
            summary=self.summary,
            category=self.category,
            severity=resolve_severity(self.severity),
            source=self.source,
            tags=self.tags if self.tags is not None else (),
            details=self.details if self.details is not None else {},
            kind=self._kind,
            hostname=self.hostname,
            processname=self._process_name,
            processid=self._process_id,
            **extra,
        )

    def _core_event(self) -> Event | DocumentEvent:
        # _sendlog may carry _updatelog's extra fields and a string timestamp,
        # so send the constructed document itself.
        return DocumentEvent(self._sendlog, self._kind)


class MozDefCompliance(MozDefEvent):
    """A compliance event: ``details`` must follow MozDef's compliance format."""

    _kind = Kind.COMPLIANCE

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_COMPLIANCE


class MozDefAssetHint(MozDefEvent):
    """An asset hint: a generic event in category ``asset_hint`` with details."""

    _kind = Kind.ASSET_HINT

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_ASSETHINT

    def _invalid(self) -> ValidationError | None:
        return super()._invalid() or _empty_details(self)


class MozDefRRA(MozDefEvent):
    """An RRA event: category ``rra_data``, with details."""

    _kind = Kind.RRA

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_RRA

    def _invalid(self) -> ValidationError | None:
        invalid = super()._invalid()
        if invalid is None and self.category != "rra_data":
            invalid = ValidationError(
                f"category is {self.category!r}; a MozDefRRA event's category must be "
                "'rra_data' (as in 1.1)",
                "category",
            )
        return invalid or _empty_details(self)


def _with_updatelog(updatelog: object, document: dict[str, Any]) -> dict[str, Any]:
    """``_updatelog``'s extra fields, then the event's own (which win)."""
    if not isinstance(updatelog, Mapping):
        raise ValidationError(
            f"_updatelog must be a dict, not {type(updatelog).__name__}", "_updatelog"
        )
    try:
        return {**updatelog, **document}
    except Exception as exc:  # a mapping that fails when read
        raise EncodingError(f"_updatelog cannot be read: {type(exc).__name__}: {exc}") from exc


def _empty_details(event: MozDefEvent) -> ValidationError | None:
    """1.1's check of asset hints and RRA events: details must not be empty."""
    details = event.details
    if isinstance(details, Mapping) and details:
        return None
    if isinstance(details, Mapping) or details is None:
        problem = "is empty"
    else:
        problem = f"must be a dict, not {type(details).__name__}"
    return ValidationError(f"details {problem} (a {type(event).__name__} needs details)", "details")


class MozDefVulnerability(MozDefMessage):
    """A vulnerability event: ``.log`` is the whole document."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._msgtype = self.MSGTYPE_VULNERABILITY

    def construct(self) -> None:
        if not isinstance(self.log, Mapping):
            raise ValidationError(f"log must be a dict, not {type(self.log).__name__}", "log")
        self._sendlog = snapshot(self.log, "", 0)

    def validate_log(self) -> bool:
        try:
            validate_document(self._sendlog, Kind.VULNERABILITY)
        except MozDefError:
            return False
        return True

    def _core_event(self) -> Event | DocumentEvent:
        return VulnerabilityEvent(self._sendlog)


class MozDefMsg:
    """The oldest API: ``MozDefMsg(url, summary=..., ...).send()``.

    The first argument is MozDef's URL (1.1 called it ``hostname`` and kept it
    in ``.hostname``; mozdef_lib kept it in ``.mozdef_hostname``: all three
    names work). Each ``send()`` goes through a :class:`MozDefEvent`.

    As in 1.1, ``send()`` delivers now and raises on failure; with
    ``fire_and_forget_mode = True`` it queues the event for background
    delivery and never raises a delivery failure. Invalid events and
    settings always raise. The URL may be passed as ``hostname=`` (1.1's
    name for it) or ``url=``.
    """

    def __init__(
        self,
        hostname: str | None = None,
        summary: str | None = None,
        category: str = "event",
        severity: str = "INFO",
        source: str | None = "mozdef_client",
        tags: list[str] | None = None,
        details: dict[str, Any] | None = None,
        *,
        url: str | None = None,
    ) -> None:
        if (hostname is None) == (url is None):
            raise ConfigurationError("MozDefMsg takes MozDef's URL once: MozDefMsg(url)")
        self.hostname: str = hostname if hostname is not None else url  # type: ignore[assignment]
        self.summary = summary
        self.category = category
        self.severity = severity
        self.source = source
        self.tags: list[str] = tags if tags is not None else []
        self.details: dict[str, Any] = details if details is not None else {}
        # Extra fields for the document. 1.1 started it with these two keys
        # (the event's own details and tags replace them), and programs index them.
        self.log: dict[str, Any] = {"details": {}, "tags": []}
        self.debug = False
        #: True, False, or (as in 1.1) the path of a CA bundle.
        self.verify_certificate: bool | str = True
        self.verify_path: str | None = None
        self.fire_and_forget_mode = False
        self.sendToSyslog = False
        self.syslogOnly = False
        self.sendToSqs = False
        self.sqsQueueName: str | None = None
        self.sqsAWSAccountId: str | None = None
        self.sqsRegion: str | None = None

    @property
    def url(self) -> str:
        return self.hostname

    @property
    def mozdef_hostname(self) -> str:
        return self.hostname

    @mozdef_hostname.setter
    def mozdef_hostname(self, url: str) -> None:
        self.hostname = url

    def __repr__(self) -> str:
        return f"MozDefMsg({redact_url(self.hostname)!r})"

    def send(
        self,
        summary: str | None = None,
        category: str | None = None,
        severity: str | None = None,
        tags: list[str] | None = None,
        details: dict[str, Any] | None = None,
        source: str | None = None,
    ) -> None:
        """Send one event; arguments override the object's values for this call only.

        Raises:
            ValidationError, ConfigurationError: the event or a setting is invalid.
            DeliveryError: only when ``fire_and_forget_mode`` is False.
        """
        # As in 1.1, a MozDefEvent per send; its Client is shared per configuration.
        message = MozDefEvent(self.hostname)
        message.summary = summary if summary is not None else self.summary
        message.category = category if category is not None else self.category
        message.severity = severity if severity is not None else self.severity
        message.source = source if source is not None else self.source
        message.tags = tags if tags is not None else self.tags
        message.details = details if details is not None else self.details
        message.set_simple_update_log(self.log or None)
        if isinstance(self.verify_certificate, str):
            message.set_verify(True)
            message.set_verify_path(self.verify_certificate)
        else:
            message.set_verify(self.verify_certificate)
            message._verify_path = self.verify_path
        message.set_send_to_syslog(self.sendToSyslog, only_syslog=self.syslogOnly)
        message.set_send_to_sqs(self.sendToSqs)
        message.set_sqs_queue_name(self.sqsQueueName)
        message.set_sqs_aws_account_id(self.sqsAWSAccountId)
        message.set_sqs_region(self.sqsRegion)
        message.set_fire_and_forget(self.fire_and_forget_mode)
        message.send()
