"""Client settings from the environment, so a deployment needs no code change.

:class:`~mozdef_client.Client` calls :func:`resolve` with the arguments it
was given; an argument given explicitly (not ``None``) always wins over its
variable. A variable that is set but empty counts as unset.

==========================  ==========================  ================================
variable                    Client argument             value
==========================  ==========================  ================================
``MOZDEF_URL``              ``destinations``            one URL, or several separated by
                                                        commas
``MOZDEF_TOKEN``            ``headers``                 sent as ``Authorization: Bearer
                                                        <token>`` unless ``headers`` has
                                                        an ``Authorization``
``MOZDEF_MODE``             ``mode``                    ``sync``, ``background`` or
                                                        ``durable``
``MOZDEF_SPOOL_DIR``        ``spool_dir``               a directory (``~`` expands);
                                                        unused in sync mode
``MOZDEF_CA_BUNDLE``        ``ca_bundle``               a PEM file of CAs
``MOZDEF_VERIFY``           ``verify``                  ``true``/``false`` (also
                                                        ``1``/``0``, ``yes``/``no``,
                                                        ``on``/``off``)
``MOZDEF_CONNECT_TIMEOUT``  ``connect_timeout``         seconds, > 0
``MOZDEF_READ_TIMEOUT``     ``read_timeout``            seconds, > 0
==========================  ==========================  ================================

Raises :class:`~mozdef_client.errors.ConfigurationError` naming the variable
when its value cannot be used (never echoing ``MOZDEF_TOKEN``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from .delivery import Mode
from .errors import ConfigurationError

__all__ = ["VARIABLES", "Settings", "resolve"]

URL = "MOZDEF_URL"
TOKEN = "MOZDEF_TOKEN"
MODE = "MOZDEF_MODE"
SPOOL_DIR = "MOZDEF_SPOOL_DIR"
CA_BUNDLE = "MOZDEF_CA_BUNDLE"
VERIFY = "MOZDEF_VERIFY"
CONNECT_TIMEOUT = "MOZDEF_CONNECT_TIMEOUT"
READ_TIMEOUT = "MOZDEF_READ_TIMEOUT"
VARIABLES = (URL, TOKEN, MODE, SPOOL_DIR, CA_BUNDLE, VERIFY, CONNECT_TIMEOUT, READ_TIMEOUT)

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
_MODES = ("sync", "background", "durable")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Settings:
    """What a Client uses, each from its argument, its variable, or the default."""

    destinations: list[str] | None  # None: the caller gave destinations
    headers: Mapping[str, str]
    mode: Mode
    spool_dir: str | None
    ca_bundle: str | None
    verify: bool
    connect_timeout: float
    read_timeout: float


def resolve(
    *,
    destinations_given: bool,
    headers: Mapping[str, str] | None,
    mode: str | None,
    spool_dir: str | None,
    ca_bundle: str | None,
    verify: bool | None,
    connect_timeout: float | None,
    read_timeout: float | None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge explicit arguments (``None``: not given) with the environment.

    Raises:
        ConfigurationError: a variable's value cannot be used (names it), no
            destination at all, or ``spool_dir`` given in sync mode.
    """
    env = os.environ if environ is None else environ
    chosen_mode = mode if mode is not None else _read(env, MODE)
    if chosen_mode is None:
        chosen_mode = "sync"
    elif mode is None and chosen_mode not in _MODES:
        raise ConfigurationError(f"{MODE} must be one of {', '.join(_MODES)}, not {chosen_mode!r}")
    if spool_dir is not None and chosen_mode == "sync":
        # A sync client never spools: a spool_dir here is a mistake worth saying.
        raise ConfigurationError(
            'spool_dir is only used in mode="durable" or "background" (for overflow="spill"); '
            "a sync client sends in send() and has no spool"
        )
    env_spool = _read(env, SPOOL_DIR) if chosen_mode != "sync" else None
    chosen_spool = spool_dir if spool_dir is not None else env_spool
    if chosen_mode == "durable" and chosen_spool is None:
        why = f" ({MODE} asks for durable)" if mode is None else ""
        raise ConfigurationError(f'mode="durable" needs a spool_dir or {SPOOL_DIR}{why}')
    return Settings(
        destinations=None if destinations_given else _urls(env),
        headers=_headers(headers, env),
        mode=cast("Mode", chosen_mode),
        spool_dir=os.path.expanduser(chosen_spool) if chosen_spool is not None else None,
        ca_bundle=ca_bundle if ca_bundle is not None else _read(env, CA_BUNDLE),
        verify=verify if verify is not None else _boolean(env, VERIFY, default=True),
        connect_timeout=_seconds(connect_timeout, env, CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT),
        read_timeout=_seconds(read_timeout, env, READ_TIMEOUT, DEFAULT_READ_TIMEOUT),
    )


def _read(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _urls(env: Mapping[str, str]) -> list[str]:
    text = _read(env, URL)
    urls = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not urls:
        raise ConfigurationError(f"no destination given: pass a URL or set {URL}")
    return urls


def _headers(headers: Mapping[str, str] | None, env: Mapping[str, str]) -> Mapping[str, str]:
    merged = dict(headers or {})
    token = _read(env, TOKEN)
    if token is None or any(name.lower() == "authorization" for name in merged):
        return merged
    if any(c in token for c in "\r\n\0") or not token.isprintable():
        raise ConfigurationError(f"{TOKEN} holds a line break or a control character")
    try:
        token.encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigurationError(
            f"{TOKEN} holds characters an HTTP header cannot carry (not Latin-1)"
        ) from None
    merged["Authorization"] = f"Bearer {token}"
    return merged


def _boolean(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = _read(env, name)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false (1/0, yes/no, on/off), not {text!r}")


def _seconds(given: float | None, env: Mapping[str, str], name: str, default: float) -> float:
    if given is not None:
        return given  # HTTPOptions checks explicit values
    text = _read(env, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {text!r}")
    return value
