"""Where the prediction log's segments go, behind one small contract.

- ``_base.py``: :class:`SegmentSink`, the one-method protocol and its invariants (thread safety,
  durability, idempotence on failure, append only).
- ``local.py``: :class:`LocalSegments`, a local folder (temp file, fsync, rename); the default.
- ``memory.py``: :class:`MemorySegments`, in memory, for tests.

Import them from :mod:`loopml.predlog`.
"""
