"""Output targets: nothing is overwritten unless asked, a run's own files never.

Every command that writes checks its targets here first: an empty path (an unset shell
variable) is refused, an existing file or a non-empty folder needs ``--overwrite``, and
the files a training run keeps for itself (its checkpoints, log, preset) are refused even
with ``--overwrite``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import UserError, arg

RUN_MARKERS = ("last.pt", "run.json", "log.jsonl")  # a folder holding one of these is a run
RUN_FILES = frozenset(
    {
        "last.pt",
        "best.pt",
        "log.jsonl",
        "preview.png",
        "preset.yaml",
        "run.json",
        "splits_final.json",
        "tb",
        "cache",
    }
)


def nonempty(value: str, flag: str) -> str:
    """Refuse an empty path: ``--out "$UNSET"`` would write into the current folder."""
    if not value.strip():
        raise UserError(f"{flag}: empty path (an unset shell variable?); give a path")
    return value


def is_run_folder(folder: Path) -> bool:
    return folder.is_dir() and any((folder / m).is_file() for m in RUN_MARKERS)


def run_owned(path: Path) -> bool:
    """Is ``path`` one of the files a training run keeps in its folder?"""
    return is_run_folder(path.parent) and (path.name in RUN_FILES or path.suffix == ".pt")


def visible_entries(folder: Path) -> list[str]:
    try:
        return sorted(e for e in os.listdir(folder) if not e.startswith("."))
    except OSError as err:
        raise UserError(f"{folder}: cannot list ({err.strerror})") from None


def _listing(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def check_new_file(path: Path, flag: str, overwrite: bool) -> None:
    """``path`` may be written: not a folder, not a run's own file, new unless overwrite."""
    nonempty(str(path), flag)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder; give a file name inside it")
    if path.exists() and not path.is_file():
        raise UserError(f"{flag} {path}: exists and is not a regular file; give a file path")
    if run_owned(path):
        raise UserError(
            f"{flag} {path}: a file the run in {path.parent} keeps for itself "
            f"({', '.join(sorted(RUN_FILES))}, *.pt); choose another name"
        )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise UserError(f"{flag} {path}: exists; pass {arg('overwrite')} to replace it")


def check_out_folder(folder: Path, flag: str, overwrite: bool, writes: Iterable[str] = ()) -> None:
    """``folder`` may receive ``writes`` (names inside it): new or empty, or ``overwrite``.

    Even with ``overwrite`` a run folder's own files are refused.
    """
    nonempty(str(folder), flag)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: exists and is not a folder")
    if not folder.is_dir():
        return
    names = visible_entries(folder)
    if names and not overwrite:
        raise UserError(
            f"{flag} {folder}: not empty ({_listing(names)}); choose a new folder, "
            f"or pass {arg('overwrite')} to replace the files this command writes"
        )
    if is_run_folder(folder):
        clash = sorted({w.split("/")[0] for w in writes} & RUN_FILES)
        if clash:
            raise UserError(
                f"{flag} {folder}: a training run's folder; writing {clash[0]} would replace "
                "the run's own file; choose another folder"
            )


def check_run_out(folder: Path, flag: str = arg("out")) -> None:
    """A new training run's folder: new, empty, or a run folder without a checkpoint yet
    (a run stopped before its first one: it only holds run files)."""
    nonempty(str(folder), flag)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: exists and is not a folder")
    if not folder.is_dir():
        return
    other = [n for n in visible_entries(folder) if n not in RUN_FILES]
    if other:
        raise UserError(
            f"{flag} {folder}: holds other files ({_listing(other)}); a run needs a new or "
            "empty folder"
        )
