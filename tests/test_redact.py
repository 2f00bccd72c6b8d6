"""The one redaction function: what it removes from messages, and what it keeps."""

from __future__ import annotations

import json
from urllib.parse import quote

from mozdef_client._redact import REDACTED, redact, secret_forms
from mozdef_client.errors import DeliveryError, RetryableError


def test_query_values_and_userinfo_are_removed_from_whole_and_bare_urls() -> None:
    text = redact("https://al:pw@h.example/events?token=abc&x=1 and url: /events?key=k1 (x)")
    assert "pw" not in text and "abc" not in text and "k1" not in text
    assert "https://h.example/events?token=<redacted>&x=<redacted>" in text
    assert "/events?key=<redacted> (x)" in text


def test_the_librarys_own_url_parameters_are_kept() -> None:
    name = "amqp://h:5672/%2F?exchange=eventtask&routing_key=eventtask"
    assert redact(f"could not talk to {name}") == f"could not talk to {name}"


def test_redacting_twice_changes_nothing() -> None:
    once = redact("POST /events?token=abc answered 401")
    assert redact(once) == once


def test_secrets_are_removed_plain_and_escaped() -> None:
    secret = 'Bearer a/b+c="d"'
    forms = secret_forms([secret])
    for shown in (secret, json.dumps(secret)[1:-1], quote(secret, safe="")):
        assert redact(f"echo: {shown}!", forms) == f"echo: {REDACTED}!"


def test_every_delivery_error_message_is_redacted() -> None:
    assert "abc" not in str(DeliveryError("failed: https://h/x?token=abc"))
    assert "pw" not in str(RetryableError("failed: https://u:pw@h/x"))
