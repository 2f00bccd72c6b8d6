"""Certificates for TLS tests, made on the fly with trustme.

A :class:`TLSFiles` holds a CA and PEM files on disk, because the library
takes file paths (``ca_bundle``, ``client_cert``, ``client_key``) as users do.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TLSFiles:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as files."""

    ca: trustme.CA
    ca_file: str
    server: trustme.LeafCert
    client_cert_file: str
    client_key_file: str


def make_tls_files(directory: Path) -> TLSFiles:
    """Create a fresh CA and its certificates under ``directory``."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.com", common_name="mozdef-test-client")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file = directory / "client-cert.pem"
    for blob in client.cert_chain_pems:
        blob.write_to_path(str(cert_file), append=True)
    key_file = directory / "client-key.pem"
    client.private_key_pem.write_to_path(str(key_file))
    return TLSFiles(ca, str(ca_file), server, str(cert_file), str(key_file))


def server_context(files: TLSFiles, *, require_client_cert: bool = False) -> ssl.SSLContext:
    """A server-side context presenting ``files.server``; optionally demanding mTLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    files.server.configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        files.ca.configure_trust(context)
    return context
