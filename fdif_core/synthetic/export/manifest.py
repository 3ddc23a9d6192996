"""Provenance and resume state: the manifest, the identity of a job and its journal.

``fdif_manifest.json`` sits beside the data: the job's identity (preset digest, seed,
layout, counts), the class list and, once the job is complete, every case with its sample
index, seed and file checksums. While a job runs, ``fdif_journal.jsonl`` gets one line per
finished case; ``--resume`` reads it back and the job removes it when done.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ... import __version__
from ...engine.compose import sample_seed
from ...errors import UserError, arg
from ...io.atomic import write_error, write_text
from ...presets.preset import Preset
from .layouts import ExportCase, ExportPlan

MANIFEST = "fdif_manifest.json"
PRESET_FILE = "fdif_preset.yaml"
JOURNAL = "fdif_journal.jsonl"
MANIFEST_VERSION = 1
COMPRESSION = 6  # gzip level of every .nii.gz (part of a job's identity: it fixes the bytes)

# Preset fields that do not change the rendered volumes.
_NOT_DATA = {"name", "description", "dataset", "pretrain", "finetune", "limits"}


def data_hash(preset: Preset) -> str:
    """Digest of the preset fields that fix the rendered volumes (seed included)."""
    data = preset.model_dump(mode="json", exclude=_NOT_DATA)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def identity(preset: Preset, plan: ExportPlan) -> dict[str, Any]:
    """What a folder must match to be resumed: equal identities give equal bytes."""
    return {
        "preset_hash": data_hash(preset),
        "seed": preset.seed,
        "format": plan.format,
        "task": plan.task,
        "num_samples": plan.num_samples,
        "num_val": plan.num_val,
        "compression": COMPRESSION,
        "device": plan.device,
    }


def build(
    preset: Preset,
    plan: ExportPlan,
    cases: list[ExportCase],
    classes: dict[str, list[str]],
    records: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The manifest; ``records`` (index -> journal record) completes it with checksums."""

    def case(c: ExportCase) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": c.index,
            "seed": sample_seed(preset.seed, c.index),
            "split": c.split,
        }
        rec = (records or {}).get(c.index)
        if rec is not None and "class" in rec:
            out["class"] = rec["class"]
        out["files"] = {
            role: {"path": path, "sha256": rec["sha256"][role] if rec else None}
            for role, path in c.files.items()
        }
        return out

    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": f"fdif-core {__version__}",
        "complete": records is not None,
        "identity": identity(preset, plan),
        "preset": {"name": preset.name, "file": PRESET_FILE},
        "volume": {
            "shape": list(preset.volume.shape),
            "spacing": list(preset.volume.spacing),
            "axes": "array (D, H, W) = NIfTI (i, j, k); affine = diag(spacing), mm",
        },
        "classes": classes,
        "outputs": outputs(plan),
        "cases": [case(c) for c in cases],
    }


def outputs(plan: ExportPlan) -> list[str]:
    """Files of a dataset besides its cases (relative to its root)."""
    extra = ["index.csv", "classes.txt"] if plan.task == "classification" else []
    return [MANIFEST, PRESET_FILE, "dataset.json", *extra]


def write(root: Path, manifest: dict[str, Any]) -> None:
    write_text(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")


def read(root: Path) -> dict[str, Any] | None:
    """The manifest in ``root``, or None when there is none."""
    path = root / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    from ...io.untrusted import UntrustedError, read_json

    try:
        data = read_json(path, "manifest", None)
    except UntrustedError as err:
        raise UserError(f"{err}; use another {arg('out')}, or {arg('overwrite')}") from None
    if not isinstance(data, dict) or not isinstance(data.get("identity"), dict):
        raise UserError(
            f"{path}: not an fdif-core manifest; use another {arg('out')}, or {arg('overwrite')}"
        )
    return data


def mismatch(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Identity fields on which two jobs differ, as ``field old -> new``."""
    return [f"{k} {old.get(k)!r} -> {new[k]!r}" for k in new if old.get(k) != new[k]]


def done_records(root: Path, manifest: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    """Cases already written: from a complete manifest and from the journal."""
    out: dict[int, dict[str, Any]] = {}
    for c in (manifest or {}).get("cases", []):
        sha = {role: f.get("sha256") for role, f in c.get("files", {}).items()}
        if sha and all(sha.values()):
            rec: dict[str, Any] = {"index": c["index"], "sha256": sha}
            if "class" in c:
                rec["class"] = c["class"]
            out[c["index"]] = rec
    out.update(read_journal(root))
    return out


def read_journal(root: Path, name: str = JOURNAL) -> dict[int, dict[str, Any]]:
    """Journal records by index; a torn last line (killed mid-append) is skipped."""
    from ...io.untrusted import read_json_lines

    path = root / name
    if not path.exists() and not path.is_symlink():
        return {}
    out: dict[int, dict[str, Any]] = {}
    for rec in read_json_lines(path, "journal"):
        try:
            out[int(rec["index"])] = rec
        except (ValueError, KeyError, TypeError):
            continue
    return out


class Journal:
    """Append-only log of finished cases (one JSON line each, flushed per case)."""

    def __init__(self, root: Path, name: str = JOURNAL) -> None:
        from ...io.untrusted import check_regular

        self.path = root / name
        if self.path.exists() or self.path.is_symlink():
            check_regular(self.path, "journal")  # not a FIFO or /dev/zero behind a symlink
        try:
            torn = False
            if self.path.exists() and self.path.stat().st_size:
                with open(self.path, "rb") as fh:  # its last byte only
                    fh.seek(-1, os.SEEK_END)
                    torn = fh.read(1) != b"\n"
            self._fh = open(self.path, "a")  # noqa: SIM115 (closed in close())
            if torn:  # a line cut by a crash or a full disk
                self._fh.write("\n")
        except OSError as err:
            raise write_error(self.path, err) from None

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        try:
            for rec in records:
                self._fh.write(json.dumps(rec, sort_keys=True) + "\n")
            self._fh.flush()
        except OSError as err:
            raise write_error(self.path, err) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # what add() could not write is redone on resume
            self._fh.close()
