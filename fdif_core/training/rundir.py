"""A training run's folder: create or reopen it, its preset and info files, its JSON log.

``RUN/preset.yaml`` (the preset), ``RUN/run.json`` (what else the run was started with),
``RUN/last.pt`` and ``best.pt`` (checkpoints), ``RUN/log.jsonl`` (one JSON object a line) and
``RUN/tb/`` (TensorBoard). A resumed run needs only ``last.pt``: the preset and the run info
travel in the checkpoint too, and a torn or later log line is cut back to its step.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ArgumentError, UserError
from ..io import atomic
from ..io.checkpoints import load_checkpoint
from ..io.untrusted import read_json
from ..presets.preset import Preset, load_preset, preset_from_text

LOG, LAST, BEST, PRESET, INFO = "log.jsonl", "last.pt", "best.pt", "preset.yaml", "run.json"


@dataclass
class Run:
    """An opened run folder: its preset, the resume checkpoint (None: a new run) and info."""

    preset: Preset
    run_dir: Path
    state: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return int(self.state["step"]) if self.state else 0

    def write_files(self) -> None:
        """Write (or repair) ``preset.yaml`` and ``run.json``, and drop the temporary file of
        a write that a crash cut short; rank 0 only, before the run writes anything."""
        for stale in self.run_dir.glob(".*.tmp*"):
            stale.unlink(missing_ok=True)
        if self.state is None or not (self.run_dir / PRESET).is_file():
            write_or_fail(self.run_dir / PRESET, self.preset.to_yaml().encode(), "preset")
        if self.info and (self.state is None or not (self.run_dir / INFO).is_file()):
            write_or_fail(self.run_dir / INFO, json.dumps(self.info, indent=2).encode(), "run info")


def new_run_dir(out: str | Path) -> Path:
    """Create the run folder ``out``; refuse one that already holds a run."""
    run_dir = Path(out)
    if (run_dir / LAST).exists():
        raise ArgumentError(
            "out", f"{run_dir} already holds a run; resume it or choose another folder"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ArgumentError("out", f"cannot create {run_dir} ({err.strerror})") from None
    return run_dir


def open_run(
    preset: Preset | None,
    out: str | Path | None,
    resume: str | Path | None,
    info: dict[str, Any] | None = None,
) -> Run:
    """A new run in ``out`` with ``preset`` and ``info``, or the run ``resume`` reopened.

    On resume ``preset`` may be None (the run's own is used); another preset is refused.
    """
    if resume is None:
        if preset is None or out is None:
            raise ArgumentError("out", "give a preset and a new run folder, or resume a run")
        return Run(preset, new_run_dir(out), None, dict(info or {}))
    run_dir = Path(resume)
    if not (run_dir / LAST).is_file():
        raise ArgumentError("resume", f"{run_dir} holds no {LAST} to resume from")
    state = load_checkpoint(run_dir / LAST)
    own = _saved_preset(run_dir, state)
    preset = preset or own
    if preset.hash() != state["preset_hash"]:
        raise ArgumentError(
            "resume",
            f"{run_dir} was trained with another preset (hash {state['preset_hash']}, this "
            f"one {preset.hash()}); resume with the run's own preset or start a new run",
        )
    saved_info = run_dir / INFO
    info = read_json(saved_info, "run.json") if saved_info.exists() else state.get("run_info")
    return Run(preset, run_dir, state, dict(info or {}))


def _saved_preset(run_dir: Path, state: dict[str, Any]) -> Preset:
    """``RUN/preset.yaml``, or the copy inside the checkpoint when the file is gone."""
    if (run_dir / PRESET).is_file():
        return load_preset(run_dir / PRESET)
    text = state.get("preset")
    if not isinstance(text, str):
        raise ArgumentError("resume", f"{run_dir / PRESET} is missing; give the run's preset")
    return preset_from_text(text, f"{run_dir / LAST} (its preset)")


def parse_rows(text: str) -> list[dict[str, Any]]:
    """The JSON rows of a log; a torn line (a crash inside a write) is dropped."""
    from ..io.untrusted import UntrustedError, parse_json

    rows = []
    for line in text.splitlines():
        try:  # finite numbers, bounded depth, objects only
            rows.append(parse_json(line, "log", "log row", dict))
        except UntrustedError:
            continue
    return rows


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's JSON-lines log."""
    from ..io.untrusted import read_bytes_capped

    return parse_rows(read_bytes_capped(Path(run_dir) / LOG, "run log").decode(errors="replace"))


class JsonLog:
    """Append-only JSON lines. Opened at step ``keep_until`` (0: a new run), the rows after
    it and any torn line are dropped. A failed write (a full disk) leaves the file as it was."""

    def __init__(self, path: Path, keep_until: int | None) -> None:
        self.path = path
        if keep_until is not None and (path.exists() or path.is_symlink()):
            from ..io.untrusted import read_bytes_capped  # a regular file, read with a cap

            text = read_bytes_capped(path, "run log").decode("utf-8", errors="replace")
            rows = [r for r in parse_rows(text) if r.get("step", 0) <= keep_until]
            kept = "".join(json.dumps(r) + "\n" for r in rows)
            if kept != text:  # rows past the checkpoint, or a torn line
                write_or_fail(path, kept.encode(), "log")
        self._fh = open(path, "ab", buffering=0)  # noqa: SIM115 (kept open for the run)

    def write(self, **row: Any) -> None:
        data = (json.dumps(row) + "\n").encode()
        pos = self._fh.tell()
        try:
            if self._fh.write(data) != len(data):
                raise OSError(28, os.strerror(28))  # a partial write: the disk is full
        except OSError as err:
            os.ftruncate(self._fh.fileno(), pos)
            msg = f"{self.path}: cannot write ({err.strerror}); the log is kept as it was"
            raise UserError(msg) from None

    def close(self) -> None:
        self._fh.close()


def write_or_fail(path: Path, data: bytes, what: str = "file") -> None:
    """Write ``path`` atomically; a failure (a full disk) is one line, the old file is kept."""
    try:
        atomic.write_bytes(path, data)
    except OSError as err:
        raise UserError(
            f"{path}: cannot write the {what} ({err.strerror or err}); the previous one is kept"
        ) from None
