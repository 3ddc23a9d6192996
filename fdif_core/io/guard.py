"""The one output-path guard every writing command goes through before it starts.

Each command module declares what it writes and reads::

    OUTPUTS = {"out": "file"}         # dest -> kind: file, folder, run, resumable
    INPUTS = ("run", "preset")        # dests naming files or folders it reads
    IDENTIFIERS = ("plans_name",)     # dests that become file or folder names

and :func:`check_args` (called by ``fdif_core.cli.main`` for every command) refuses, in
one line and before any work:

- an empty path (``--out "$UNSET"`` would mean the current folder);
- an output that is one of the command's inputs, after resolving symlinks and comparing
  inodes (``--out`` equal to the checkpoint or preset being read), or a folder output that
  holds an input it would overwrite;
- a file a training run keeps for itself (``last.pt``, ``log.jsonl``, ...; even with
  ``--overwrite`` and through a symlink);
- an existing file or non-empty folder without ``--overwrite`` (``file``, ``folder``);
  ``run`` and ``resumable`` folders check their contents themselves (a run to resume, a
  study to continue); all refuse a file where a folder goes and a folder where a file goes;
- an identifier that is not a plain name (separators, ``..``, a leading dot, control
  characters, over :data:`MAX_NAME` characters).

The library functions behind the commands call the same checks for their defaults
(:mod:`fdif_core.io.targets`).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import UserError
from .targets import check_new_file, check_out_folder, nonempty, run_owned

KINDS = ("file", "folder", "run", "resumable")
MAX_NAME = 100
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def flag_of(parser: argparse.ArgumentParser | None, dest: str) -> str:
    """The option string of ``dest`` (``--out``), or its metavar for a positional."""
    for action in parser._actions if parser is not None else ():
        if action.dest == dest:
            if action.option_strings:
                return max(action.option_strings, key=len)
            return str(action.metavar or dest.upper())
    return "--" + dest.replace("_", "-")


def check_identifier(value: str, flag: str) -> str:
    """A user's name that becomes a file or folder name: one plain path component."""
    nonempty(value, flag)
    bad = (
        "a path separator" if ("/" in value or "\\" in value)
        else "'..'" if ".." in value
        else "a leading dot" if value.startswith(".")
        else f"over {MAX_NAME} characters" if len(value) > MAX_NAME
        else "characters other than letters, digits, _ . + -" if not _NAME_RE.match(value)
        else None
    )  # fmt: skip
    if bad:
        raise UserError(
            f"{flag} {value[:60]!r}: becomes a file name but holds {bad}; give a plain name "
            f"(letters, digits, _ . + -, at most {MAX_NAME} characters)"
        )
    return value


def _real(p: Path) -> str:
    return os.path.realpath(p)


def same_path(a: Path, b: Path) -> bool:
    """The same file or folder: same inode where both exist, else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return _real(a) == _real(b)


def _inside(child: Path, folder: Path) -> bool:
    c, f = _real(child), _real(folder)
    return c != f and c.startswith(f.rstrip("/") + "/")


def check_target(
    path: Path, flag: str, kind: str, overwrite: bool, inputs: Iterable[tuple[str, Path]] = ()
) -> None:
    """One output ``path`` of ``kind`` against the rules above."""
    nonempty(str(path), flag)
    for in_flag, src in inputs:
        if os.path.lexists(src) and same_path(path, src):  # (a shipped preset name: no file)
            raise UserError(
                f"{flag} {path}: is the command's own input ({in_flag} {src}); write somewhere else"
            )
        if kind == "folder" and overwrite and Path(src).exists() and _inside(src, path):
            raise UserError(
                f"{flag} {path}: holds the command's own input ({in_flag} {src}), which "
                "--overwrite could replace; write somewhere else"
            )
    if kind == "file":
        if run_owned(Path(_real(path))) and not run_owned(path):  # through a symlink
            raise UserError(
                f"{flag} {path}: leads to {_real(path)}, a file a training run keeps for "
                "itself; choose another name"
            )
        check_new_file(path, flag, overwrite)
        return
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: exists and is not a folder; give a folder path")
    if kind == "folder":
        check_out_folder(path, flag, overwrite)


def _values(value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).split("=", 1)[-1] for v in value]  # NAME=CKPT lists
    return [str(value)]


def check_args(
    mod: ModuleType, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None
) -> None:
    """Every declared output, input-vs-output and identifier of one parsed command."""
    inputs = [
        (flag_of(parser, dest), Path(v))
        for dest in getattr(mod, "INPUTS", ())
        for v in _values(getattr(args, dest, None))
        if v.strip()
    ]
    for dest in getattr(mod, "IDENTIFIERS", ()):
        value = getattr(args, dest, None)
        if value is not None:
            check_identifier(str(value), flag_of(parser, dest))
    overwrite = bool(getattr(args, "overwrite", False))
    for dest, kind in getattr(mod, "OUTPUTS", {}).items():
        assert kind in KINDS, kind
        value = getattr(args, dest, None)
        if value is None:
            continue
        nonempty(str(value), flag_of(parser, dest))
        check_target(Path(str(value)), flag_of(parser, dest), kind, overwrite, inputs)
