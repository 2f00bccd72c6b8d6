"""Shared option values: TLSOptions, and the checks every options class makes of numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mozdef_client import (
    AMQPOptions,
    ConfigurationError,
    DeliveryOptions,
    HTTPOptions,
    MozDefHandler,
    RemoteSyslogOptions,
    RetryPolicy,
    SyslogOptions,
    TLSOptions,
)
from mozdef_client._checks import is_number, is_port, is_whole
from mozdef_client.destinations import transport_from_url
from mozdef_client.transports import _http_pool as http_pool
from tls import TLSFiles, make_tls_files


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


# -- TLSOptions ----------------------------------------------------------------------


def test_tls_options_default_to_verifying_with_the_system_cas() -> None:
    assert TLSOptions() == TLSOptions(
        verify=True, ca_bundle=None, client_cert=None, client_key=None
    )


def test_tls_options_are_a_frozen_hashable_value(tls_files: TLSFiles) -> None:
    tls = TLSOptions(ca_bundle=tls_files.ca_file)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tls.verify = False  # type: ignore[misc]
    assert {tls, TLSOptions(ca_bundle=tls_files.ca_file)} == {tls}


def test_tls_options_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        TLSOptions(False)  # type: ignore[misc]


@pytest.mark.parametrize("label", ["ca_bundle", "client_cert", "client_key"])
def test_a_missing_certificate_file_is_named(label: str, tls_files: TLSFiles) -> None:
    given: dict[str, Any] = {label: "/nonexistent/file.pem"}
    if label == "client_key":
        given["client_cert"] = tls_files.client_cert_file
    with pytest.raises(ConfigurationError, match=f"{label} '/nonexistent/file.pem' is not a"):
        TLSOptions(**given)


def test_a_client_key_needs_its_certificate(tls_files: TLSFiles) -> None:
    with pytest.raises(ConfigurationError, match="client_key needs client_cert"):
        TLSOptions(client_key=tls_files.client_key_file)


TLS_USERS: dict[str, Callable[..., Any]] = {
    "http": lambda **tls: HTTPOptions(**tls),
    "amqp": lambda **tls: AMQPOptions(tls=True, **tls),
    "remote syslog": lambda **tls: RemoteSyslogOptions(host="logs", protocol="tls", **tls),
}


@pytest.mark.parametrize("make", TLS_USERS.values(), ids=TLS_USERS.keys())
def test_each_tls_transport_holds_its_settings_as_one_tls_options(
    make: Callable[..., Any], tls_files: TLSFiles
) -> None:
    settings = {
        "verify": False,
        "ca_bundle": tls_files.ca_file,
        "client_cert": tls_files.client_cert_file,
        "client_key": tls_files.client_key_file,
    }
    assert make(**settings).tls_options == TLSOptions(**settings)
    assert make().tls_options == TLSOptions()


@pytest.mark.parametrize("make", TLS_USERS.values(), ids=TLS_USERS.keys())
def test_each_tls_transport_checks_its_files_the_same_way(
    make: Callable[..., Any], tls_files: TLSFiles
) -> None:
    with pytest.raises(ConfigurationError, match=r"ca_bundle '/nope\.pem' is not a readable file"):
        make(ca_bundle="/nope.pem")
    with pytest.raises(ConfigurationError, match="client_key needs client_cert"):
        make(client_key=tls_files.client_key_file)


def test_the_tls_value_is_not_part_of_an_options_repr_or_a_keyword(tls_files: TLSFiles) -> None:
    options = HTTPOptions(ca_bundle=tls_files.ca_file)
    assert "_tls" not in repr(options)
    with pytest.raises(TypeError):
        HTTPOptions(_tls=TLSOptions())  # type: ignore[call-arg]
    # replace() builds (and checks) the value again from the new fields.
    assert dataclasses.replace(options, verify=False).tls_options.verify is False


def test_http_destinations_with_the_same_tls_settings_share_one_pool(tls_files: TLSFiles) -> None:
    first = HTTPOptions(ca_bundle=tls_files.ca_file, connect_timeout=1)
    second = HTTPOptions(ca_bundle=tls_files.ca_file, read_timeout=3)
    other = HTTPOptions(ca_bundle=tls_files.ca_file, verify=False)
    pools = http_pool.POOLS
    assert pools.get(first.tls_options) is pools.get(second.tls_options)
    assert pools.get(first.tls_options) is not pools.get(other.tls_options)


@pytest.mark.parametrize("url", ["amqps://rabbit", "syslog+tls://logs"])
def test_tls_options_given_to_transport_from_url_are_the_defaults_of_tls_urls(
    url: str, tls_files: TLSFiles
) -> None:
    if url.startswith("amqps"):
        pytest.importorskip("pika")
    tls = TLSOptions(ca_bundle=tls_files.ca_file)
    http = HTTPOptions(verify=False)
    options = transport_from_url(url, http, tls=tls).options  # type: ignore[attr-defined]
    assert options.tls_options == tls
    overridden = transport_from_url(f"{url}?verify=false", http, tls=tls)
    assert overridden.options.tls_options == dataclasses.replace(tls, verify=False)  # type: ignore[attr-defined]
    # Without tls=, the HTTP options' own settings are the defaults, as before.
    inherited = transport_from_url(url, http).options  # type: ignore[attr-defined]
    assert inherited.tls_options == http.tls_options


def test_a_tls_url_checks_its_settings_as_one_value(tls_files: TLSFiles) -> None:
    with pytest.raises(ConfigurationError, match="client_key needs client_cert"):
        transport_from_url(f"syslog+tls://logs?client_key={tls_files.client_key_file}")


# -- the checker module --------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, "1", None, 1.5, [1]])
def test_is_whole_refuses_what_is_not_an_int(value: object) -> None:
    assert not is_whole(value)


def test_is_whole_takes_ints_within_its_bounds() -> None:
    assert is_whole(0) and is_whole(-3) and is_whole(10**20)
    assert is_whole(480, at_least=480) and not is_whole(479, at_least=480)
    assert is_whole(8, at_most=8) and not is_whole(9, at_most=8)


@pytest.mark.parametrize("value", [True, False, "1", None, [1.0]])
def test_is_number_refuses_bools_and_non_numbers(value: object) -> None:
    assert not is_number(value)


def test_is_number_takes_ints_and_floats_within_its_bounds() -> None:
    assert is_number(0) and is_number(0.5) and is_number(-2)
    assert is_number(0, at_least=0) and not is_number(-0.1, at_least=0)
    assert is_number(0.1, above=0) and not is_number(0, above=0)


def test_is_port_is_a_whole_number_from_1_to_65535() -> None:
    assert is_port(1) and is_port(65535)
    assert not is_port(0) and not is_port(65536) and not is_port(True) and not is_port("80")


# Every options class that takes a number refuses True with its own message.
BOOL_REFUSALS: list[tuple[Callable[[], object], str]] = [
    (lambda: DeliveryOptions(max_queue_events=True), "max_queue_events must be a positive integer"),
    (lambda: DeliveryOptions(flush_interval=True), "flush_interval must be a number of seconds"),
    (lambda: DeliveryOptions(spool_min_free_bytes=True), "spool_min_free_bytes must be an integer"),
    (lambda: RetryPolicy(backoff_max=True), r"RetryPolicy.backoff_max must be a number >= 0"),
    (lambda: RetryPolicy(max_attempts=True), "RetryPolicy.max_attempts must be None or an integer"),
    (lambda: HTTPOptions(read_timeout=True), "read_timeout must be a positive number of seconds"),
    (lambda: AMQPOptions(heartbeat=True), "AMQP heartbeat must be a whole number of seconds"),
    (lambda: AMQPOptions(connect_timeout=True), "AMQP connect_timeout must be a positive number"),
    (lambda: SyslogOptions(max_message_bytes=True), "max_message_bytes must be an integer"),
    (lambda: RemoteSyslogOptions(host="h", timeout=True), "syslog timeout must be a positive"),
    (
        lambda: RemoteSyslogOptions(host="h", max_message_bytes=True),
        "max_message_bytes for syslog over udp must be a whole number from 480 to",
    ),
    (lambda: RemoteSyslogOptions(host="h", port=True), "syslog port must be a whole number"),
    (
        lambda: MozDefHandler(url="-", flush_timeout=True),
        "flush_timeout must be a number of seconds",
    ),
    (
        lambda: MozDefHandler(url="-", drop_report_interval=True),
        "drop_report_interval must be a number of seconds",
    ),
]


@pytest.mark.parametrize(("make", "message"), BOOL_REFUSALS)
def test_a_bool_given_for_a_number_is_refused_naming_the_option(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_the_bounds_of_each_check_are_kept(tmp_path: Path) -> None:
    assert DeliveryOptions(spool_min_free_bytes=0).spool_min_free_bytes == 0
    assert RetryPolicy(backoff_initial=0).backoff_initial == 0
    with pytest.raises(ConfigurationError, match="syslog timeout must be a positive"):
        RemoteSyslogOptions(host="h", timeout=0)
    with pytest.raises(ConfigurationError, match="max_message_bytes must be an integer"):
        SyslogOptions(max_message_bytes=479)
    assert RemoteSyslogOptions(host="h", max_message_bytes=480).max_message_bytes == 480
    with pytest.raises(ConfigurationError, match="from 480 to 65507"):
        RemoteSyslogOptions(host="h", max_message_bytes=65508)
