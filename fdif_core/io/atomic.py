"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A write that the file system refuses (disk full, quota, read-only, no permission) removes
its temporary file, leaves the previous file as it was and raises :class:`WriteError`:
one line naming the file and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError

HINTS = {
    errno.ENOSPC: "the disk is full; free space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded; free space or write elsewhere",
    errno.EFBIG: "the file is larger than the file system allows",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
}


class WriteError(UserError):
    """A file could not be written; the previous file, if any, is unchanged."""


def write_error(path: Path, err: OSError) -> WriteError:
    """The one-line error for ``err`` while writing ``path``."""
    cause = err.strerror or type(err).__name__
    hint = HINTS.get(err.errno or 0)
    kept = "; the previous file is unchanged" if path.exists() else ""
    return WriteError(f"{path}: cannot write ({cause}{'; ' + hint if hint else ''}){kept}")


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; finished files get the usual 0666 & ~umask (read once here).
_FILE_MODE = 0o666 & ~_read_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary name keeps the suffixes (``.nii.gz``) so writers that look at them work.
    A crash at any moment leaves either the old file or the new one, never a partial file;
    an ``OSError`` while writing becomes a :class:`WriteError` once the temporary file is
    removed.
    """
    path = Path(path)
    suffix = "".join(path.suffixes)
    if path.exists() and not path.is_file():
        raise WriteError(f"{path}: exists and is not a regular file; refusing to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name.split('.')[0]}.", suffix=".tmp" + suffix, dir=path.parent
        )
        os.close(fd)
        os.chmod(tmp, _FILE_MODE)
    except OSError as err:
        raise write_error(path, err) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        raise write_error(path, err) from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())
