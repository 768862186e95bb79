"""pytest plugins, one concern each, registered once by tests/conftest.py (``pytest_plugins``).

- :mod:`~tests.plugins.postgres`: a real PostgreSQL server, started once per session.
- :mod:`~tests.plugins.stores`: the store backends (SQLite, PostgreSQL) as one parametrized
  fixture, ``db_url``, and a migrated ``store`` on it.
- :mod:`~tests.plugins.data`: the bundled flights table and a sample of it (read once).
- :mod:`~tests.plugins.cli`: ``loopml ARGS`` run in-process through the real entry point.
- :mod:`~tests.plugins.browser`: headless Chromium, started once per session.
- :mod:`~tests.plugins.servers`: a served flights project with a registered model, and records
  to send it.

Helpers that are not fixtures live in :mod:`tests.support`.
"""
