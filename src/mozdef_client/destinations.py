"""Destination URLs: one string names a transport and its options.

- ``https://host/events`` (one event a request), ``https://host/_bulk`` (NDJSON)
- ``sqs://queue-name?region=us-west-2&account=012345678901&endpoint_url=...``
- ``syslog:`` (``/dev/log``), ``syslog:///run/custom.sock?facility=local0&ident=app``
- ``file:///var/log/events.jsonl``, or ``-`` for standard output

Errors name the part of the URL that is wrong and never echo credentials.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ConfigurationError
from .transports.base import Transport
from .transports.file import FileTransport
from .transports.http import HTTPOptions, HTTPTransport
from .transports.sqs import SQSOptions, SQSTransport
from .transports.syslog import SyslogOptions, SyslogTransport

__all__ = ["ENVIRONMENT_VARIABLE", "transport_from_url", "url_from_environment"]

ENVIRONMENT_VARIABLE = "MOZDEF_URL"


def url_from_environment() -> str:
    """The destination named by ``MOZDEF_URL``.

    Raises:
        ConfigurationError: the variable is unset or empty.
    """
    url = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not url:
        raise ConfigurationError(f"no destination given: pass a URL or set {ENVIRONMENT_VARIABLE}")
    return url


def transport_from_url(url: str, http: HTTPOptions | None = None) -> Transport:
    """Build the transport ``url`` names.

    Args:
        url: a destination URL (see the module docstring).
        http: options for HTTP(S) destinations.

    Raises:
        ConfigurationError: the URL cannot be used; the message names the part.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"a destination URL must be a string, not {type(url).__name__}")
    if url == "-":
        return FileTransport("-")
    scheme, sep, _ = url.partition(":")
    if not sep:
        raise ConfigurationError(
            "destination URL has no scheme; expected e.g. https://host/events, sqs://queue, "
            "syslog:, file:///path"
        )
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        return HTTPTransport(url, http)
    parts = urlsplit(url)
    query = _query(parts.query)
    if scheme == "syslog":
        known = {"facility", "ident", "max_message_bytes"}
        _reject_unknown(query, known, scheme)
        return SyslogTransport(
            SyslogOptions(
                socket_path=unquote(parts.path) or "/dev/log",
                facility=query.get("facility", "user"),  # type: ignore[arg-type]
                ident=query.get("ident"),
                max_message_bytes=_int(query, "max_message_bytes", 8192),
            )
        )
    if scheme == "sqs":
        _reject_unknown(query, {"region", "account", "endpoint_url"}, scheme)
        if not parts.hostname:
            raise ConfigurationError("sqs:// URL has no queue name (sqs://QUEUE?region=...)")
        return SQSTransport(
            SQSOptions(
                queue_name=unquote(parts.netloc),
                region=query.get("region"),
                account_id=query.get("account"),
                endpoint_url=query.get("endpoint_url"),
            )
        )
    if scheme == "file":
        _reject_unknown(query, set(), scheme)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError("file: URL must be file:///absolute/path")
        return FileTransport(unquote(parts.path))
    raise ConfigurationError(
        f"unsupported destination scheme {scheme!r}; expected http, https, sqs, syslog or file"
    )


def _query(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        if len(values) != 1:
            raise ConfigurationError(f"destination URL gives {key!r} more than once")
        result[key] = values[0]
    return result


def _reject_unknown(query: dict[str, str], known: set[str], scheme: str) -> None:
    unknown = sorted(set(query) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ConfigurationError(
            f"{scheme}: URL has unknown parameter {unknown[0]!r}; allowed: {allowed}"
        )


def _int(query: dict[str, str], key: str, default: int) -> int:
    if key not in query:
        return default
    try:
        return int(query[key])
    except ValueError:
        raise ConfigurationError(f"URL parameter {key!r} must be a whole number") from None
