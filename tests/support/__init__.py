"""Helpers the test modules share: plain functions and constants, no fixtures (those are in
:mod:`tests.plugins`). Test modules import from here, never from each other or from conftest.

- :mod:`~tests.support.projects`: the flights spec every project test starts from, and a
  project folder's store.
- :mod:`~tests.support.servers`: ``loopml serve``/``loopml ui`` in their own process, and
  traffic to them.
- :mod:`~tests.support.pages`: a page of the session's headless browser, with what it logged and
  requested.
- :mod:`~tests.support.tasks`: module-level tasks for the executor contract (picklable, light
  to import in a fresh process).
"""
