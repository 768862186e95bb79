"""loopml's test suite (a package so that ``tests.support`` and ``tests.plugins`` import by one
unambiguous name; see the pytest section of pyproject.toml)."""
