"""Removing secrets from text before anyone can see it: the one place that does.

Error messages end up in ``str(exc)``, ``stats().last_error``, dead letters
(in memory and in the spool), the delivery logger's warnings and CLI output.
They are built from URLs that may carry credentials (``user:password@``,
``?token=...``) and from server answers that may echo a refused
``Authorization`` header back, plainly or escaped (JSON, URL encoding, HTML).
:class:`~mozdef_client.errors.DeliveryError` passes every message through
:func:`redact`, so whatever is derived from an error is clean.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "redact", "redact_url", "secret_forms"]

REDACTED = "<redacted>"

# "scheme://user:password@" (userinfo ends at the last '@' before the path).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s'\"<>]*@")
# A query parameter's value, in a whole URL or a bare "/events?token=..." (as
# urllib3 quotes request targets): everything after '=' up to the next separator.
_QUERY_VALUE = re.compile(r"(?P<key>[?&;](?P<name>[^=&#\s'\"<>?]*)=)(?:<redacted>|[^&#;\s'\"<>]*)")
# This library's own destination parameters, which never hold secrets (an AMQP
# destination's name shows its exchange and routing key).
_PLAIN_PARAMETERS = frozenset({
    "exchange", "routing_key", "declare", "heartbeat", "connect_timeout", "blocked_timeout",
    "region", "account", "facility", "ident", "format", "app_name", "hostname",
    "max_message_bytes", "timeout", "verify", "server_name",
})  # fmt: skip


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without userinfo, query values, or any of ``secrets`` in any usual escaping."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "@" in text:
        text = _USERINFO.sub(r"\g<scheme>", text)
    if "=" in text:
        text = _QUERY_VALUE.sub(_redacted_value, text)
    return text


def _redacted_value(match: re.Match[str]) -> str:
    if match["name"] in _PLAIN_PARAMETERS:
        return match[0]
    return match["key"] + REDACTED


def secret_forms(values: Iterable[str]) -> list[str]:
    """Each secret as a server could echo it: plain, JSON-, URL- or HTML-escaped.

    Longest first, so a value is removed whole before any part of it; values
    under 4 characters would mangle the text while protecting little.
    """
    forms: set[str] = set()
    for value in values:
        forms |= {
            value,
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            quote(value, safe=""),
            quote_plus(value, safe=""),
            html.escape(value),
            repr(value)[1:-1],
        }
    return sorted((form for form in forms if len(form) >= 4), key=len, reverse=True)


def redact_url(url: str) -> str:
    """``url`` without credentials, query or fragment: a destination's name."""
    # Imported here: errors.py needs this module, and "mozdef-client --help"
    # must not load urllib3 (and ssl) through it.
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parsed = parse_url(url)
    except LocationParseError:
        return "<unparseable URL>"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path or '/'}"
