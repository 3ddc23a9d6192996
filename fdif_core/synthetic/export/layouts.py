"""On-disk dataset layouts: MONAI/Medical Segmentation Decathlon and nnU-Net v2.

A layout names every file of a case and builds the ``dataset.json`` its tools read. Sample
``i`` of the recipe is case ``i``: training cases are ``0..N-1``, validation cases follow
(``N..N+V-1``), so a case's name says which sample it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError, arg

FORMATS = ("decathlon", "nnunet")
TASKS = ("segmentation", "classification")
FILE_ENDING = ".nii.gz"


@dataclass(frozen=True)
class ExportCase:
    """One output case: sample ``index``, its split and its files (role -> path under root)."""

    index: int
    split: str  # "train" or "val"
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportPlan:
    """Everything that fixes the bytes of a dataset, apart from the preset itself."""

    format: str
    task: str
    num_samples: int
    num_val: int
    label_tasks: tuple[str, ...] = ("shape",)  # label maps written per case (segmentation)
    dataset_id: int = 501
    dataset_name: str = "FDIF"
    device: str = "cpu"  # device type that renders: GPU arithmetic differs in the last bits

    @property
    def width(self) -> int:
        """Digits of case numbers: 5, or more for very large datasets."""
        return max(5, len(str(self.num_samples + self.num_val - 1)))

    def case_id(self, index: int) -> str:
        return f"case_{index:0{self.width}d}"

    def root(self, out: Path) -> Path:
        """The dataset folder: ``out`` itself, or ``out/DatasetXXX_Name`` for nnU-Net."""
        if self.format == "nnunet":
            return out / f"Dataset{self.dataset_id:03d}_{self.dataset_name}"
        return out

    def folders(self) -> list[str]:
        """Folders (relative to the root) that may hold case files."""
        files = [p for s in ("train", "val") for p in self._files(0, s).values()]
        return sorted({str(Path(p).parent) for p in files})

    def cases(self) -> list[ExportCase]:
        """All planned cases, training first, in index order."""
        out = []
        for i in range(self.num_samples + self.num_val):
            split = "train" if i < self.num_samples else "val"
            out.append(ExportCase(i, split, self._files(i, split)))
        return out

    def _files(self, index: int, split: str) -> dict[str, str]:
        cid = self.case_id(index)
        if self.format == "nnunet":
            img, lab = ("imagesTr", "labelsTr") if split == "train" else ("imagesTs", "labelsTs")
            return {"image": f"{img}/{cid}_0000{FILE_ENDING}", "label": f"{lab}/{cid}{FILE_ENDING}"}
        img, lab = ("imagesTr", "labelsTr") if split == "train" else ("imagesVal", "labelsVal")
        files = {"image": f"{img}/{cid}{FILE_ENDING}"}
        if self.task == "segmentation":
            for task in self.label_tasks:
                if task == "shape":
                    files["label"] = f"{lab}/{cid}{FILE_ENDING}"
                else:
                    files[f"label_{task}"] = f"{lab}_{task}/{cid}{FILE_ENDING}"
        return files


def sanitize_name(name: str) -> str:
    """A dataset name usable in an nnU-Net folder name (letters, digits, ``-``, ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "FDIF"


def check_plan(plan: ExportPlan) -> None:
    """Refuse combinations a layout cannot hold, as one line naming the option."""
    if plan.format not in FORMATS:
        raise UserError(
            f"{arg('format')}: unknown format {plan.format!r}; allowed: {', '.join(FORMATS)}"
        )
    if plan.task not in TASKS:
        raise UserError(f"{arg('task')}: unknown task {plan.task!r}; allowed: {', '.join(TASKS)}")
    if plan.num_samples < 1:
        raise UserError(f"{arg('num_samples')}: must be at least 1, got {plan.num_samples}")
    if plan.num_val < 0:
        raise UserError(f"{arg('num_val')}: must be 0 or more, got {plan.num_val}")
    if plan.format == "nnunet":
        if plan.task == "classification":
            raise UserError(
                f"{arg('task')} classification: nnU-Net trains segmentation only; "
                f"use {arg('format')} decathlon"
            )
        if len(plan.label_tasks) > 1:
            raise UserError(
                "labels.mode multitask: nnU-Net reads one label map per case; "
                f"use {arg('format')} decathlon (one labelsTr_<task>/ folder per task)"
            )
        if not 1 <= plan.dataset_id <= 999:
            raise UserError(f"{arg('dataset_id')}: must be 1..999, got {plan.dataset_id}")


def dataset_json(
    plan: ExportPlan,
    cases: list[ExportCase],
    label_names: dict[str, list[str]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The ``dataset.json`` of ``plan`` (Decathlon datalist or nnU-Net v2)."""
    train = [c for c in cases if c.split == "train"]
    val = [c for c in cases if c.split == "val"]
    names = label_names["shape"]
    if plan.format == "nnunet":
        return {
            "channel_names": {"0": "FDIF"},
            "labels": {n: i for i, n in enumerate(names)},
            "numTraining": len(train),
            "file_ending": FILE_ENDING,
            "name": plan.dataset_name,
            "description": meta["description"],
            "reference": meta["reference"],
            "release": meta["release"],
            "numTest": len(val),
        }

    def entry(c: ExportCase) -> dict[str, Any]:
        e: dict[str, Any] = {k: f"./{v}" for k, v in c.files.items()}
        if plan.task == "classification":
            e["label"] = meta["classes"][c.index]
        return e

    out: dict[str, Any] = {
        "name": meta["name"],
        "description": meta["description"],
        "reference": meta["reference"],
        "licence": "CC-BY-4.0",
        "release": meta["release"],
        "tensorImageSize": "3D",
        "modality": {"0": "FDIF"},
        "labels": {str(i): n for i, n in enumerate(names)},
    }
    for task, task_names in label_names.items():
        if task != "shape":
            out[f"labels_{task}"] = {str(i): n for i, n in enumerate(task_names)}
    out |= {
        "numTraining": len(train),
        "numValidation": len(val),
        "numTest": 0,
        "training": [entry(c) for c in train],
        "validation": [entry(c) for c in val],
        "test": [],
    }
    return out
