"""MozDef severities, their aliases and the syslog priorities they map to."""

from __future__ import annotations

import enum

from .errors import ConfigurationError

__all__ = ["Facility", "Severity"]


class Severity(str, enum.Enum):
    """The severity names MozDef knows, in increasing order of urgency."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    NOTICE = "NOTICE"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"
    ALERT = "ALERT"
    EMERGENCY = "EMERGENCY"

    def __str__(self) -> str:
        return self.value

    @property
    def syslog_priority(self) -> int:
        """The RFC 5424 severity number (0 emergency ... 7 debug)."""
        return _SYSLOG_PRIORITY[self]

    @classmethod
    def parse(cls, value: Severity | str) -> Severity:
        """Return the severity named by ``value``, case-insensitively.

        Accepts the usual aliases (``CRIT``, ``WARN``, ``ERR``, ``EMERG``,
        ``FATAL``, ``PANIC``, ``INFORMATIONAL``).

        Raises:
            ConfigurationError: the name is not a severity.
        """
        if isinstance(value, Severity):
            return value
        if not isinstance(value, str):
            # Never the caller's repr: it may raise, hang, or be 5,000 digits long.
            raise ConfigurationError(f"severity must be a name such as 'INFO', not {_shown(value)}")
        text = str.__str__(value)  # the text itself, whatever a subclass overrides
        found = _BY_NAME.get(text.strip().upper())
        if found is None:
            known = ", ".join(s.value for s in cls)
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise ConfigurationError(f"unknown severity {shown!r}; expected one of {known}")
        return found


def _shown(value: object) -> str:
    """A non-name severity for a message: its type, and its value only when that is safe."""
    kind = type(value)
    if (kind is int and value.bit_length() <= 64) or kind is float or kind is bool:  # type: ignore[attr-defined]
        return f"{kind.__name__} {value!r}"
    if kind is bytes and len(value) <= 40:  # type: ignore[arg-type]
        return f"bytes {value!r}"
    return kind.__name__


_SYSLOG_PRIORITY = {
    Severity.EMERGENCY: 0,
    Severity.ALERT: 1,
    Severity.CRITICAL: 2,
    Severity.ERROR: 3,
    Severity.WARNING: 4,
    Severity.NOTICE: 5,
    Severity.INFO: 6,
    Severity.DEBUG: 7,
}

_BY_NAME: dict[str, Severity] = {s.value: s for s in Severity}
_BY_NAME.update(
    {
        "CRIT": Severity.CRITICAL,
        "FATAL": Severity.CRITICAL,
        "WARN": Severity.WARNING,
        "ERR": Severity.ERROR,
        "EMERG": Severity.EMERGENCY,
        "PANIC": Severity.EMERGENCY,
        "INFORMATIONAL": Severity.INFO,
    }
)


class Facility(enum.IntEnum):
    """Syslog facilities (RFC 5424 numbers)."""

    KERN = 0
    USER = 1
    MAIL = 2
    DAEMON = 3
    AUTH = 4
    SYSLOG = 5
    LPR = 6
    NEWS = 7
    UUCP = 8
    CRON = 9
    AUTHPRIV = 10
    FTP = 11
    LOCAL0 = 16
    LOCAL1 = 17
    LOCAL2 = 18
    LOCAL3 = 19
    LOCAL4 = 20
    LOCAL5 = 21
    LOCAL6 = 22
    LOCAL7 = 23

    @classmethod
    def parse(cls, value: Facility | str | int) -> Facility:
        """Return the facility named by ``value``.

        Accepts a name (``"local0"``, ``"LOG_LOCAL0"``), a value of the stdlib
        ``syslog`` module (``syslog.LOG_LOCAL0``, which is the number shifted
        left by three), or a facility number. The stdlib meaning wins where the
        two overlap: 8 is ``syslog.LOG_USER``, not uucp; 16 is ``LOG_MAIL``, not
        local0 (name those two instead).

        Raises:
            ConfigurationError: the value is not a facility.
        """
        if isinstance(value, Facility):
            return value
        if isinstance(value, bool):
            raise ConfigurationError(f"unknown syslog facility {value!r}")
        if isinstance(value, int):
            for candidate in (value >> 3 if value % 8 == 0 else -1, value):
                if candidate in cls._value2member_map_:
                    return cls(candidate)
            raise ConfigurationError(f"unknown syslog facility {value!r}")
        if isinstance(value, str):
            name = value.strip().upper().removeprefix("LOG_")
            if name in cls.__members__:
                return cls[name]
            known = ", ".join(f.name.lower() for f in cls)
            raise ConfigurationError(f"unknown syslog facility {value!r}; expected one of {known}")
        raise ConfigurationError(
            f"syslog facility must be a name or number, not {type(value).__name__}"
        )
