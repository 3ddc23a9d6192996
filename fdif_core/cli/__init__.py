"""The ``fdif-core`` command line: ``main`` and one module per subcommand."""

from .main import main

__all__ = ["main"]
