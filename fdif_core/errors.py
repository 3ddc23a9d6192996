"""User-facing errors: the CLI prints their message as one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (file, field, value); ``str(err)`` is the one-line message."""


class ArgumentError(UserError):
    """A bad value of a library function's argument ``name`` (``resume``, ``out``, ...).

    The message does not name a command-line flag; the CLI words it as the flag it maps the
    argument to (``fdif_core.cli.main``).
    """

    def __init__(self, name: str, message: str, value: object = None) -> None:
        where = name if value is None else f"{name} {value}"
        super().__init__(f"{where}: {message}")
        self.name, self.message, self.value = name, message, value


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a command; it exits ``128 + signum`` (130 or 143)."""

    def __init__(self, message: str = "", signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum
