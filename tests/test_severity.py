"""Severity names, aliases and syslog priorities; syslog facilities."""

from __future__ import annotations

import syslog

import pytest

from mozdef_client import ConfigurationError, Facility, Severity


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("spell", [str.upper, str.lower, str.title])
def test_every_name_parses_in_any_case(severity, spell):
    assert Severity.parse(spell(severity.value)) is severity


def test_surrounding_whitespace_is_ignored():
    assert Severity.parse("  warning\n") is Severity.WARNING


@pytest.mark.parametrize(
    ("alias", "severity"),
    [
        ("CRIT", Severity.CRITICAL),
        ("crit", Severity.CRITICAL),
        ("WARN", Severity.WARNING),
        ("Warn", Severity.WARNING),
        ("ERR", Severity.ERROR),
        ("err", Severity.ERROR),
        ("EMERG", Severity.EMERGENCY),
        ("emerg", Severity.EMERGENCY),
        ("FATAL", Severity.CRITICAL),
        ("PANIC", Severity.EMERGENCY),
        ("informational", Severity.INFO),
    ],
)
def test_aliases(alias, severity):
    assert Severity.parse(alias) is severity


def test_a_severity_parses_to_itself():
    assert Severity.parse(Severity.NOTICE) is Severity.NOTICE


@pytest.mark.parametrize("bad", ["LOUD", "", "INFO!", "warnings"])
def test_unknown_name_is_an_error_naming_the_value_and_the_choices(bad):
    with pytest.raises(ConfigurationError) as info:
        Severity.parse(bad)
    message = str(info.value)
    assert f"unknown severity {bad!r}" in message
    assert "DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, EMERGENCY" in message


@pytest.mark.parametrize("bad", [99, None, 2.0, b"INFO"])
def test_non_string_is_an_error_naming_the_value(bad):
    with pytest.raises(ConfigurationError, match="severity must be a name") as info:
        Severity.parse(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)


def test_configuration_error_is_a_value_error():
    with pytest.raises(ValueError):
        Severity.parse("LOUD")


def test_severity_is_its_name_as_a_string():
    assert str(Severity.WARNING) == "WARNING"
    assert f"{Severity.ALERT}" == "ALERT"
    assert Severity.WARNING == "WARNING"


@pytest.mark.parametrize(
    ("severity", "stdlib_priority"),
    [
        (Severity.EMERGENCY, syslog.LOG_EMERG),
        (Severity.ALERT, syslog.LOG_ALERT),
        (Severity.CRITICAL, syslog.LOG_CRIT),
        (Severity.ERROR, syslog.LOG_ERR),
        (Severity.WARNING, syslog.LOG_WARNING),
        (Severity.NOTICE, syslog.LOG_NOTICE),
        (Severity.INFO, syslog.LOG_INFO),
        (Severity.DEBUG, syslog.LOG_DEBUG),
    ],
)
def test_syslog_priority_matches_the_stdlib_constants(severity, stdlib_priority):
    assert severity.syslog_priority == stdlib_priority


def test_severities_are_listed_in_increasing_urgency():
    priorities = [severity.syslog_priority for severity in Severity]
    assert priorities == sorted(priorities, reverse=True)


@pytest.mark.parametrize(
    ("given", "facility"),
    [
        ("local0", Facility.LOCAL0),
        ("LOCAL7", Facility.LOCAL7),
        ("Auth", Facility.AUTH),
        ("authpriv", Facility.AUTHPRIV),
        ("LOG_LOCAL3", Facility.LOCAL3),
        ("log_daemon", Facility.DAEMON),
        (" user ", Facility.USER),
        (Facility.CRON, Facility.CRON),
    ],
)
def test_facility_names(given, facility):
    assert Facility.parse(given) is facility


@pytest.mark.parametrize(
    ("number", "facility"),
    [
        (0, Facility.KERN),
        (1, Facility.USER),
        (4, Facility.AUTH),
        (10, Facility.AUTHPRIV),
        (17, Facility.LOCAL1),
        (23, Facility.LOCAL7),
    ],
)
def test_facility_numbers(number, facility):
    assert Facility.parse(number) is facility


# Every facility the platform's syslog module has a constant for.
_STDLIB_FACILITIES = [f"LOG_{f.name}" for f in Facility if hasattr(syslog, f"LOG_{f.name}")]


@pytest.mark.parametrize("name", _STDLIB_FACILITIES)
def test_every_stdlib_syslog_constant(name):
    # The stdlib's values are the facility number shifted left by three.
    assert Facility.parse(getattr(syslog, name)) is Facility[name.removeprefix("LOG_")]


def test_numbers_that_are_also_stdlib_values_mean_the_stdlib_facility():
    """8 and 16 are uucp and local0 as RFC numbers, but LOG_USER and LOG_MAIL in Python."""
    assert Facility.parse(8) is Facility.USER
    assert Facility.parse(16) is Facility.MAIL
    assert Facility.parse("uucp") is Facility.UUCP
    assert Facility.parse("local0") is Facility.LOCAL0


@pytest.mark.parametrize("bad", ["local8", "LOG_", "", "kernel"])
def test_unknown_facility_name_is_an_error_naming_the_value(bad):
    with pytest.raises(ConfigurationError) as info:
        Facility.parse(bad)
    assert f"unknown syslog facility {bad!r}" in str(info.value)
    assert "local0" in str(info.value)


@pytest.mark.parametrize("bad", [12, 14, 7 << 3 | 1, 200, 1000, -1, True])
def test_unknown_facility_number_is_an_error(bad):
    with pytest.raises(ConfigurationError, match=f"unknown syslog facility {bad!r}"):
        Facility.parse(bad)


def test_facility_of_another_type_is_an_error():
    with pytest.raises(ConfigurationError, match="must be a name or number, not float"):
        Facility.parse(1.0)  # type: ignore[arg-type]
