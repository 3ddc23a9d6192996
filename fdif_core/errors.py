"""User-facing errors: the CLI prints their message as one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (file, field, value); ``str(err)`` is the one-line message."""
