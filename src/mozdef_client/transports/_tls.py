"""TLS settings shared by the transports that open their own sockets (AMQP,
remote syslog), and the checks every transport's options make of them."""

from __future__ import annotations

import os
import ssl
from typing import Protocol

from ..errors import ConfigurationError

__all__ = ["TLSFiles", "check_tls_files", "is_port", "ssl_context"]


class TLSFiles(Protocol):
    @property
    def verify(self) -> bool: ...

    @property
    def ca_bundle(self) -> str | None: ...

    @property
    def client_cert(self) -> str | None: ...

    @property
    def client_key(self) -> str | None: ...


def check_tls_files(options: TLSFiles) -> None:
    """The CA bundle and client certificate files exist, and a key has its certificate.

    Raises:
        ConfigurationError: naming the option at fault.
    """
    for label in ("ca_bundle", "client_cert", "client_key"):
        path = getattr(options, label)
        if path is not None and not os.path.isfile(path):
            raise ConfigurationError(f"{label} {path!r} is not a readable file")
    if options.client_key is not None and options.client_cert is None:
        raise ConfigurationError("client_key needs client_cert")


def ssl_context(options: TLSFiles, what: str) -> ssl.SSLContext:
    """A client context: the system's CAs or ``ca_bundle``, verification on
    unless ``verify`` is false, and the client certificate if one is given.

    Raises:
        ConfigurationError: the certificate files cannot be loaded (``what``
            names the transport in the message).
    """
    try:
        context = ssl.create_default_context(cafile=options.ca_bundle)
        if options.client_cert:
            context.load_cert_chain(options.client_cert, options.client_key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"cannot load the {what} TLS certificates: {exc.strerror or exc}"
        ) from exc
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def is_port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536
