"""The durable store: an append-only segment log per writer process.

- :mod:`.spool`: :class:`Spool`, the facade the delivery pipeline uses;
- :mod:`.writer`: appends, the byte cap, the free-space floor;
- :mod:`.reader`: leases, acknowledgements and releases, progress files;
- :mod:`.takeover`: adopting the segments of processes that died;
- :mod:`.dead_letters`: the shared dead-letter file;
- :mod:`.sync`: the ``fsync`` modes (never, always, interval);
- :mod:`.segments`, :mod:`.records`, :mod:`.files`: a segment and its
  progress, the on-disk formats, safe opening and locking of files;
- :mod:`.migrate`: moving a 2.0 SQLite spool in;
- :mod:`.admin`: status, export, purge and requeue for ``mozdef-client spool``.

``mozdef_client.delivery.spool`` re-exports the public names.
"""
