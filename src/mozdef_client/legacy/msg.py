"""MozDefMsg: the oldest API, one call per event, each sent through a MozDefEvent."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..transports.http import redact_url
from .event import MozDefEvent

__all__ = ["MozDefMsg"]


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
