"""User-facing errors: the CLI prints their message as one line, without a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable

_ARG = re.compile(r"⟨(\w+)⟩")


def arg(name: str) -> str:
    """An argument named inside an error message (a hint such as "or ``overwrite``"): the
    CLI shows it as the flag it maps ``name`` to, ``str(err)`` as the argument's name."""
    return f"⟨{name}⟩"


def word(message: str, flag: Callable[[str], str] | None = None) -> str:
    """``message`` with the arguments it names (:func:`arg`) as ``flag(name)``, or as
    their names."""
    return _ARG.sub(lambda m: flag(m[1]) if flag else m[1], message)


class UserError(Exception):
    """Bad input from the user (file, field, value); ``str(err)`` is the one-line message.

    Library code names function arguments, never command-line flags: a bad argument is an
    :class:`ArgumentError`, another argument inside a message is :func:`arg`.
    """

    def __str__(self) -> str:
        return word(super().__str__())

    @property
    def raw(self) -> str:
        """The message with its argument markers, for the CLI to word as flags."""
        return str(self.args[0]) if self.args else ""


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
