"""Warnings of third-party libraries: logged, not printed between the user and the answer.

MONAI, nnU-Net, timm or torch may warn while a command runs (deprecations, notices), by
``warnings`` or by ``logging`` records no handler was configured for. The user reads this
project's own lines (a result, or one error line); those go to a log file instead:
``$FDIF_LOG``, else ``$FDIF_CACHE/fdif-core.log`` (``~/.cache/fdif``), each with the
command and time, so nothing is lost. A log that cannot be written is skipped silently
(warnings never stop a command).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path


def log_path() -> Path:
    if os.environ.get("FDIF_LOG"):
        return Path(os.environ["FDIF_LOG"])
    cache = os.environ.get("FDIF_CACHE") or str(Path.home() / ".cache" / "fdif")
    return Path(cache) / "fdif-core.log"


def _append(text: str) -> None:
    with contextlib.suppress(OSError):
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


@contextlib.contextmanager
def captured(command: str) -> Iterator[None]:
    """Route every warning shown inside to the log (see the module docstring)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        _append(f"{stamp} fdif-core {command} [{os.getpid()}]: {text}\n")

    class ToLog(logging.Handler):  # library log records nobody configured a handler for
        def emit(self, record: logging.LogRecord) -> None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            _append(f"{stamp} fdif-core {command} [{os.getpid()}]: {record.name}: "
                    f"{record.getMessage()}\n")  # fmt: skip

    last = logging.lastResort
    logging.lastResort = ToLog(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        logging.lastResort = last
