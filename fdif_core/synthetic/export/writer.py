"""Render a case, encode it as NIfTI and write its files atomically.

Rendering and encoding are split so that a GPU job renders in the main process while
threads compress and write; a CPU job does both in each worker process.
"""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...dtypes import label_dtype
from ...engine.compose import Recipe
from ...io.atomic import write_bytes
from ...io.nifti import nifti_bytes
from ...presets.preset import Preset
from .layouts import ExportCase
from .manifest import COMPRESSION


@dataclass(frozen=True)
class Job:
    """What a worker needs to turn a case into files (picklable)."""

    preset: Preset
    root: Path
    task: str
    device: str = "cpu"


@dataclass
class Rendered:
    """A rendered case: arrays by file role, plus extra journal fields (the class)."""

    case: ExportCase
    arrays: dict[str, np.ndarray]
    extra: dict[str, Any]


def render(recipe: Recipe, job: Job, case: ExportCase) -> Rendered:
    """Sample ``case.index`` of the recipe as CPU arrays ready to encode."""
    if job.task == "classification":
        img, cls = recipe.classification_sample(case.index, device=job.device)
        return Rendered(case, {"image": img.cpu().numpy().astype(np.float32)}, {"class": cls})
    s = recipe.sample(case.index, device=job.device)
    dtype = np.dtype(label_dtype(max(len(v) for v in recipe.task_names().values())))
    arrays = {"image": s.image.cpu().numpy()}
    for task, lab in s.labels.items():
        role = "label" if task == "shape" else f"label_{task}"
        if role in case.files:
            arrays[role] = lab.cpu().numpy().astype(dtype)
    return Rendered(case, arrays, {})


def write(job: Job, rendered: Rendered, parent: int | None = None) -> dict[str, Any]:
    """Encode and write the files of a rendered case; returns its journal record.

    ``parent``: the pid of the process that started the job; a worker whose parent died
    (killed) stops here instead of writing behind the back of a resumed job.
    """
    spacing = tuple(float(s) for s in job.preset.volume.spacing)
    sha: dict[str, str] = {}
    for role, arr in rendered.arrays.items():
        data = nifti_bytes(arr, spacing, COMPRESSION)  # type: ignore[arg-type]
        if parent is not None and os.getppid() != parent:
            os._exit(1)
        write_bytes(job.root / rendered.case.files[role], data)
        sha[role] = hashlib.sha256(data).hexdigest()
    return {"index": rendered.case.index, "sha256": sha, **rendered.extra}


# ---------------------------------------------------------------- worker processes
_STATE: dict[str, Any] = {}


def init_worker(job: Job, parent: int) -> None:
    """Pool initializer: one torch thread per process (same bytes as one worker).

    Ctrl-C reaches the whole process group; only the parent handles it (it stops the
    workers), so a worker ignores it instead of printing a traceback; SIGTERM (how the
    parent stops them) ends a worker at once, whatever handler the parent installed.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent stops workers with SIGTERM
    torch.set_num_threads(1)
    _STATE.update(job=job, recipe=job.preset.recipe(), parent=parent)


def run_case(case: ExportCase) -> dict[str, Any]:
    """Pool task: render, encode and write one case."""
    job: Job = _STATE["job"]
    return write(job, render(_STATE["recipe"], job, case), _STATE["parent"])
