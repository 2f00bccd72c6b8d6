"""Destination URLs: one string names a transport and its options.

- ``https://host/events`` (one event a request), ``https://host/_bulk`` (JSON arrays);
  vulnerability documents go to ``/custom/vulnerability`` beside either
- ``sqs://queue-name?region=us-west-2&account=012345678901&endpoint_url=...``
  (and ``total_timeout``)
- ``amqp://user:password@host:5672/vhost?exchange=eventtask&routing_key=eventtask``,
  ``amqps://...`` (TLS); several brokers of one cluster as ``host1,host2:5673,host3``
  (tried in turn: see ``AMQPOptions.failover``); the vhost is one path segment
  (``%2F`` for ``/``); a user without a password takes it from ``MOZDEF_AMQP_PASSWORD``
- ``syslog:`` (``/dev/log``), ``syslog:///run/custom.sock?facility=local0&ident=app``
  (also ``max_message_bytes``, ``timeout``)
- ``syslog+udp://host:514``, ``syslog+tcp://host:514``, ``syslog+tls://host:6514``,
  with ``format=rfc5424|rfc3164``, ``facility``, ``app_name``, ``hostname``,
  ``max_message_bytes``, ``timeout``, ``total_timeout``
- ``file:///var/log/events.jsonl``, or ``-`` for standard output

TLS destinations (``amqps``, ``syslog+tls``) take ``verify``, ``ca_bundle``,
``client_cert``, ``client_key`` and ``server_name`` parameters; a
:class:`~mozdef_client.transports.TLSOptions` (by default the HTTP options'
own, i.e. a Client's ``verify``, ``ca_bundle``, ``client_cert``,
``client_key``) gives their defaults.

Errors name the part of the URL that is wrong and never echo credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from .errors import ConfigurationError
from .transports._tls import TLSOptions
from .transports.amqp import AMQPOptions, AMQPTransport
from .transports.base import Transport
from .transports.file import FileTransport
from .transports.http import HTTPOptions, HTTPTransport
from .transports.remote_syslog import RemoteSyslogOptions, RemoteSyslogTransport
from .transports.sqs import SQSOptions, SQSTransport
from .transports.syslog import SyslogOptions, SyslogTransport

__all__ = [
    "AMQP_PASSWORD_VARIABLE",
    "ENVIRONMENT_VARIABLE",
    "transport_from_url",
    "url_from_environment",
    "vulnerability_refusal",
]

ENVIRONMENT_VARIABLE = "MOZDEF_URL"
#: The AMQP password for a URL that names a user but no password.
AMQP_PASSWORD_VARIABLE = "MOZDEF_AMQP_PASSWORD"

_TLS_PARAMETERS = {"verify", "ca_bundle", "client_cert", "client_key", "server_name"}
_SYSLOG_PARAMETERS = {
    "format", "facility", "app_name", "hostname", "max_message_bytes", "timeout", "total_timeout",
}  # fmt: skip
_AMQP_PARAMETERS = {
    "exchange", "routing_key", "declare", "heartbeat", "connect_timeout", "blocked_timeout",
}  # fmt: skip
_UNESCAPED_PASSWORD = (
    "{scheme}:// URL has an '@' after its host; in a user name or password, write "
    "'/' as %2F, '?' as %3F, '#' as %23 and '@' as %40"
)
_SCHEMES = "https, http, sqs, amqp, amqps, syslog, syslog+udp, syslog+tcp, syslog+tls or file"


def url_from_environment() -> str:
    """The destination named by ``MOZDEF_URL``.

    Raises:
        ConfigurationError: the variable is unset or empty.
    """
    url = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not url:
        raise ConfigurationError(f"no destination given: pass a URL or set {ENVIRONMENT_VARIABLE}")
    return url


def vulnerability_refusal(transport: Transport) -> str | None:
    """Why ``transport`` cannot carry a vulnerability document, or None when it can.

    MozDef indexes a vulnerability document whole only as a custom document
    (see :mod:`mozdef_client.routing`): HTTP posts it to
    ``/custom/vulnerability``, AMQP and SQS messages carry the custom marks
    MozDef's workers honour. Syslog reaches MozDef as text through a log
    forwarder, never as a custom document, so it is refused, not stripped.
    """
    if isinstance(transport, (SyslogTransport, RemoteSyslogTransport)):
        return (
            f"{transport.name} cannot carry a vulnerability event: MozDef gets syslog as "
            "text events and would never index the document whole; send vulnerabilities "
            "to MozDef's HTTP intake (an /events, /_bulk or /custom/vulnerability URL), "
            "to its RabbitMQ (amqp://) or to SQS"
        )
    return None


@dataclass(frozen=True)
class _Defaults:
    """What a URL does not say: the HTTP options, and the TLS settings."""

    http: HTTPOptions
    tls: TLSOptions


def transport_from_url(
    url: str, http: HTTPOptions | None = None, *, tls: TLSOptions | None = None
) -> Transport:
    """Build the transport ``url`` names.

    Args:
        url: a destination URL (see the module docstring).
        http: options for HTTP(S) destinations.
        tls: the TLS settings of ``amqps`` and ``syslog+tls`` destinations
            that their URL does not give (default: ``http``'s own).

    Raises:
        ConfigurationError: the URL cannot be used; the message names the part.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"a destination URL must be a string, not {type(url).__name__}")
    if url == "-":
        return FileTransport("-")
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise ConfigurationError(
            "destination URL has no scheme; expected e.g. https://host/events, sqs://queue, "
            "amqp://host, syslog:, syslog+udp://host, file:///path"
        )
    scheme = scheme.lower()
    builder = _BUILDERS.get(scheme)
    if builder is None:
        # Only the scheme is shown: the rest may hold credentials.
        raise ConfigurationError(
            f"unsupported destination scheme {_shown(scheme, url)}; expected {_SCHEMES}"
        )
    failover: tuple[str, ...] = ()
    if scheme in ("amqp", "amqps"):
        url, failover = _split_amqp_brokers(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ConfigurationError(_netloc_problem(url, scheme)) from None
    if scheme in ("http", "https"):
        after_host = parts.path
    else:
        after_host = url.partition(parts.netloc)[2] if parts.netloc else ""
    if "@" in after_host:
        # Most likely a password with an unescaped '/', '?' or '#' that ended
        # the authority early; going on would show part of it as a path.
        raise ConfigurationError(_UNESCAPED_PASSWORD.format(scheme=scheme))
    http = http or HTTPOptions()
    defaults = _Defaults(http, tls or http.tls_options)
    if failover:
        return _amqp(url, scheme, parts, defaults, failover)
    return builder(url, scheme, parts, defaults)


def _split_amqp_brokers(url: str) -> tuple[str, tuple[str, ...]]:
    """``amqp://u@h1,h2:5673,h3/vhost`` as (the URL with ``h1`` only, ("h2:5673", "h3"))."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, ()
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url, ()
    first, *more = hosts.split(",")
    if not first or not all(more):
        raise ConfigurationError(f"an empty broker in the {scheme}:// host list")
    return f"{scheme}://{userinfo}{at}{first}{tail}", tuple(more)


def _http(url: str, scheme: str, parts: SplitResult, defaults: _Defaults) -> Transport:
    _require_host(parts, scheme)
    return HTTPTransport(url, defaults.http)


def _sqs(url: str, scheme: str, parts: SplitResult, defaults: _Defaults) -> Transport:
    query = _query(parts.query, {"region", "account", "endpoint_url", "total_timeout"}, scheme)
    _reject_userinfo(parts, scheme)
    if not parts.hostname:
        raise ConfigurationError("sqs:// URL has no queue name (sqs://QUEUE?region=...)")
    return SQSTransport(
        SQSOptions(
            queue_name=unquote(parts.netloc),
            region=query.get("region"),
            account_id=query.get("account"),
            endpoint_url=query.get("endpoint_url"),
            total_timeout=(
                _seconds(query, "total_timeout")
                if "total_timeout" in query
                else SQSOptions.total_timeout
            ),
        )
    )


def _amqp(
    url: str,
    scheme: str,
    parts: SplitResult,
    defaults: _Defaults,
    failover: tuple[str, ...] = (),
) -> Transport:
    tls = scheme == "amqps"
    query = _query(parts.query, _AMQP_PARAMETERS | (_TLS_PARAMETERS if tls else set()), scheme)
    host = _require_host(parts, scheme)
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if "/" in path:
        raise ConfigurationError(
            f"the vhost in an {scheme}:// URL is one path segment; write a '/' in it as %2F"
        )
    username, password = "guest", "guest"
    if parts.username is not None:
        username = unquote(parts.username)
        password = (
            unquote(parts.password)
            if parts.password is not None
            else os.environ.get(AMQP_PASSWORD_VARIABLE, "")
        )
    extra: dict[str, Any] = {}
    if "exchange" in query:
        extra["exchange"] = query["exchange"]
    if "routing_key" in query:
        extra["routing_key"] = query["routing_key"]
    if "declare" in query:
        extra["declare"] = _choice(query, "declare", ("passive", "active"))
    if "heartbeat" in query:
        extra["heartbeat"] = _int(query, "heartbeat")
    for key in ("connect_timeout", "blocked_timeout"):
        if key in query:
            extra[key] = _seconds(query, key)
    if tls:
        extra.update(_tls(query, defaults.tls))
    return AMQPTransport(
        AMQPOptions(
            host=host,
            port=parts.port,
            virtual_host=unquote(path) or "/",
            username=username,
            password=password,
            tls=tls,
            failover=failover,
            **extra,
        )
    )


def _local_syslog(url: str, scheme: str, parts: SplitResult, defaults: _Defaults) -> Transport:
    query = _query(parts.query, {"facility", "ident", "max_message_bytes", "timeout"}, scheme)
    if parts.netloc:
        raise ConfigurationError(
            "syslog: names the local syslog socket (syslog: or syslog:///path); for a "
            "server use syslog+udp://, syslog+tcp:// or syslog+tls://"
        )
    return SyslogTransport(
        SyslogOptions(
            socket_path=unquote(parts.path) or "/dev/log",
            facility=query.get("facility", "user"),  # type: ignore[arg-type]
            ident=query.get("ident"),
            max_message_bytes=_int(query, "max_message_bytes", 8192),
            timeout=_seconds(query, "timeout") if "timeout" in query else SyslogOptions.timeout,
        )
    )


def _remote_syslog(url: str, scheme: str, parts: SplitResult, defaults: _Defaults) -> Transport:
    protocol = scheme.removeprefix("syslog+")
    tls = protocol == "tls"
    query = _query(parts.query, _SYSLOG_PARAMETERS | (_TLS_PARAMETERS if tls else set()), scheme)
    _reject_userinfo(parts, scheme)
    host = _require_host(parts, scheme)
    if parts.path not in ("", "/"):
        raise ConfigurationError(f"a {scheme}:// URL has no path; put options after '?'")
    extra: dict[str, Any] = {}
    if "format" in query:
        extra["format"] = _choice(query, "format", ("rfc5424", "rfc3164"))
    for key in ("facility", "app_name", "hostname"):
        if key in query:
            extra[key] = query[key]
    if "max_message_bytes" in query:
        extra["max_message_bytes"] = _int(query, "max_message_bytes")
    for key in ("timeout", "total_timeout"):
        if key in query:
            extra[key] = _seconds(query, key)
    if tls:
        extra.update(_tls(query, defaults.tls))
    return RemoteSyslogTransport(
        RemoteSyslogOptions(host=host, port=parts.port, protocol=protocol, **extra)  # type: ignore[arg-type]
    )


def _file(url: str, scheme: str, parts: SplitResult, defaults: _Defaults) -> Transport:
    _query(parts.query, set(), scheme)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise ConfigurationError("file: URL must be file:///absolute/path")
    return FileTransport(unquote(parts.path))


_Builder = Callable[[str, str, SplitResult, _Defaults], Transport]
_BUILDERS: dict[str, _Builder] = {
    "http": _http,
    "https": _http,
    "sqs": _sqs,
    "amqp": _amqp,
    "amqps": _amqp,
    "syslog": _local_syslog,
    "syslog+udp": _remote_syslog,
    "syslog+tcp": _remote_syslog,
    "syslog+tls": _remote_syslog,
    "file": _file,
}


def _tls(query: dict[str, str], defaults: TLSOptions) -> dict[str, Any]:
    """TLS options from the URL, falling back to ``defaults`` (checked as one value)."""
    given: dict[str, Any] = {
        key: query[key] for key in ("ca_bundle", "client_cert", "client_key") if key in query
    }
    if "verify" in query:
        given["verify"] = _bool(query, "verify")
    return {**asdict(replace(defaults, **given)), "server_name": query.get("server_name")}


def _require_host(parts: SplitResult, scheme: str) -> str:
    if not parts.hostname:
        raise ConfigurationError(f"{scheme}:// URL has no host")
    return unquote(parts.hostname)


def _reject_userinfo(parts: SplitResult, scheme: str) -> None:
    if "@" in parts.netloc:
        raise ConfigurationError(f"a {scheme}:// URL takes no user name or password")


def _netloc_problem(url: str, scheme: str) -> str:
    """Why urlsplit refused ``url``: a bad port or a bad IPv6 address."""
    authority = _authority(url)
    hostport = authority.rpartition("@")[2]
    if hostport.count("[") != hostport.count("]"):
        return f"{scheme}:// URL has an unclosed '[' or ']' around an IPv6 host"
    port = hostport.rpartition("]")[2].rpartition(":")[2]
    if "@" in url and "@" not in authority:
        return _UNESCAPED_PASSWORD.format(scheme=scheme)
    return f"{scheme}:// URL has port {_shown(port, url)}; a port is a number from 1 to 65535"


def _authority(url: str) -> str:
    """The authority part of ``url`` (what follows ``//`` up to the path)."""
    rest = url.partition("//")[2]
    for stop in "/?#":
        rest = rest.partition(stop)[0]
    return rest


def _shown(value: str, url: str) -> str:
    # A value is echoed only when the URL cannot hold credentials, so a
    # password mistaken for a port (an unescaped '/' in it) never shows.
    return repr(value) if "@" not in url else "(not shown: the URL holds credentials)"


def _query(text: str, known: set[str], scheme: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        if key not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise ConfigurationError(
                f"{scheme}: URL has unknown parameter {key!r}; allowed: {allowed}"
            )
        if len(values) != 1:
            raise ConfigurationError(f"destination URL gives {key!r} more than once")
        result[key] = values[0]
    return result


def _int(query: dict[str, str], key: str, default: int | None = None) -> int:
    if key not in query and default is not None:
        return default
    try:
        return int(query[key])
    except ValueError:
        raise ConfigurationError(f"URL parameter {key!r} must be a whole number") from None


def _seconds(query: dict[str, str], key: str) -> float:
    try:
        return float(query[key])
    except ValueError:
        raise ConfigurationError(f"URL parameter {key!r} must be a number of seconds") from None


def _bool(query: dict[str, str], key: str) -> bool:
    value = query[key].strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"URL parameter {key!r} must be true or false")


def _choice(query: dict[str, str], key: str, choices: tuple[str, ...]) -> str:
    value = query[key].strip().lower()
    if value not in choices:
        raise ConfigurationError(f"URL parameter {key!r} must be one of {', '.join(choices)}")
    return value
