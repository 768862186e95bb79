"""Registers the suite's pytest plugins (tests/plugins/, one concern each). Nothing else lives
here: fixtures go in a plugin, shared helpers in tests/support/."""

import pytest

pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.plugins.postgres",
    "tests.plugins.stores",
    "tests.plugins.data",
    "tests.plugins.cli",
    "tests.plugins.browser",
    "tests.plugins.servers",
]
