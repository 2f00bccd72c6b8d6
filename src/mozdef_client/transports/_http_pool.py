"""The process-wide urllib3 pools of the HTTP transport.

One ``PoolManager`` per TLS configuration, shared by every HTTP transport,
so keep-alive connections are reused across objects; forgotten in a forked
child (which must not write on its parent's sockets). Its connections put
themselves under the calling request's total deadline (:mod:`._deadline`).
"""

from __future__ import annotations

import threading

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .. import _process
from ._deadline import WatchedConnection
from ._tls import TLSOptions

__all__ = ["POOLS"]


class _PoolRegistry:
    """One urllib3 PoolManager per TLS configuration, shared process-wide."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[TLSOptions, urllib3.PoolManager] = {}

    def get(self, tls: TLSOptions) -> urllib3.PoolManager:
        with self._lock:
            pool = self._pools.get(tls)
            if pool is None:
                pool = urllib3.PoolManager(
                    num_pools=32,
                    maxsize=8,
                    cert_reqs="CERT_REQUIRED" if tls.verify else "CERT_NONE",
                    ca_certs=tls.ca_bundle,
                    cert_file=tls.client_cert,
                    key_file=tls.client_key,
                )
                # Connections that a request's total deadline can cut short.
                pool.pool_classes_by_scheme = _WATCHED_POOLS
                self._pools[tls] = pool
            return pool

    def forget_after_fork(self) -> None:
        # A child must not share the parent's sockets: start with new pools.
        self._lock = threading.Lock()
        self._pools = {}


class _WatchedHTTPConnection(WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(WatchedConnection, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _WatchedHTTPConnectionPool,
    "https": _WatchedHTTPSConnectionPool,
}

POOLS = _PoolRegistry()
_process.at_fork("connections", POOLS.forget_after_fork)
