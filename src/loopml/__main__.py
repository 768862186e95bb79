"""``python -m loopml``: the same as the ``loopml`` command."""

from loopml.cli import main

main()
