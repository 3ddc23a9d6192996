"""Atomic writes: a refused write leaves the old file and no temporary, as one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fdif_core.io import atomic
from fdif_core.io.atomic import WriteError, write_bytes


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (errno.ENOSPC, "disk is full"),
        (errno.EDQUOT, "quota"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "no permission"),
        (errno.EIO, ""),
    ],
)
def test_refused_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, hint: str
) -> None:
    target = tmp_path / "w.pth"
    target.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(WriteError) as err:
        write_bytes(target, b"new" * 1000)
    msg = str(err.value)
    assert "\n" not in msg and str(target) in msg and os.strerror(code) in msg
    assert hint in msg and "previous file is unchanged" in msg
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]  # no temporary left


def test_refuses_to_replace_a_fifo(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(WriteError, match="not a regular file"):
        write_bytes(pipe, b"x")
    assert pipe.is_fifo()


def test_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    with pytest.raises(WriteError, match="cannot write"):
        write_bytes(blocker / "sub" / "x.bin", b"x")
    assert blocker.read_text() == "mine"
