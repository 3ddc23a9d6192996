"""Study specs: a transfer study as one YAML file (``fdif-core study SPEC``).

A study pre-trains every arm with one shared budget, fine-tunes each arm on each fold
with several seeds in one or more data regimes (training cases per fold), and compares
every arm with ``scratch``, paired by fold and seed. ``studies/*.yaml`` are examples.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator

from .base import Strict
from .limits import MAX_VOXELS
from .loader import read_preset_file
from .preset import PresetError, format_error

SCRATCH = "scratch"
SEED_MAX = 2**32 - 1  # as a preset's seed
DATA_SOURCES = ("tptbox-spine", "pyradiomics")


class StudyDataset(Strict):
    """Where the labelled scans come from: a packaged source or an nnU-Net v2 raw folder."""

    source: Literal["tptbox-spine", "pyradiomics"] | None = Field(
        None, description="converted at run time from a PyPI package (docs/transfer.md)"
    )
    path: str | None = Field(None, description="an nnU-Net v2 raw dataset folder")

    @model_validator(mode="after")
    def _one(self) -> StudyDataset:
        if (self.source is None) == (self.path is None):
            raise ValueError(f"give exactly one of source ({', '.join(DATA_SOURCES)}) or path")
        return self


class StudyFold(Strict):
    """One fold: its validation cases and its training pool, in the order regimes take them."""

    val: list[str] = Field(min_length=1, max_length=100_000)
    train: list[str] = Field(min_length=1, max_length=100_000)

    @model_validator(mode="after")
    def _disjoint(self) -> StudyFold:
        both = sorted(set(self.val) & set(self.train))
        if both:
            raise ValueError(f"cases {both} are in both val and train")
        return self


class StudyArm(Strict):
    """A pre-training arm: a preset with a pre-training recipe, or none (``scratch``)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)  # a folder name
    preset: str | None = Field(None, description="preset file or shipped name; null = scratch")


class StudyQuick(Strict):
    """What ``--quick`` changes: a smoke-sized run of the same study."""

    pretrain_iterations: PositiveInt = 4
    finetune_iterations: PositiveInt = 4
    curve_interval: PositiveInt = 2
    folds: PositiveInt = Field(2, description="first N folds")
    seeds: PositiveInt = Field(2, description="first N seeds")
    eval_overlap: float | None = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="sliding-window overlap of the final evaluation (null: the fine-tuning "
        "preset's sw_overlap); a full study always uses the preset's",
    )
    eval_amp: Literal["auto", "preset", "bf16"] = Field(
        "auto",
        description="precision of the final evaluation's forward passes: bf16 autocast, the "
        "preset's amp, or auto (bf16 where the CPU's oneDNN computes bf16 natively, else the "
        "preset's); a full study always uses the preset's",
    )


class StudySpec(Strict):
    """A transfer study (see docs/transfer.md)."""

    version: Literal[1] = 1
    name: str
    description: str = ""
    dataset: StudyDataset
    folds: list[StudyFold] = Field(min_length=1, max_length=100)
    regimes: dict[str, PositiveInt] = Field(
        min_length=1, description="regime name -> training cases per fold (first N of train)"
    )
    seeds: list[Annotated[int, Field(ge=0, le=SEED_MAX)]] = Field(
        min_length=1, max_length=1000, description="fine-tuning seeds, paired across arms"
    )
    arms: list[StudyArm] = Field(min_length=2)
    pretrain_shape: tuple[PositiveInt, PositiveInt, PositiveInt] | None = Field(
        None, description="render the arms' volumes at this shape (presets are resolution-free)"
    )
    pretrain: dict[str, Any] = Field(
        default_factory=dict,
        description="the shared budget: fields of the pretrain: section set for every arm",
    )
    finetune: str = Field(description="preset with the finetune: section (path or shipped name)")
    curve_interval: PositiveInt = Field(25, description="validation Dice every N fine-tune steps")
    ci: Literal["t", "bootstrap"] = "t"
    quick: StudyQuick = StudyQuick()

    @field_validator("pretrain_shape")
    @classmethod
    def _shape(cls, v: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if v is not None and math.prod(v) > MAX_VOXELS:
            raise ValueError(
                f"{list(v)} is {math.prod(v):,} voxels; at most {MAX_VOXELS:,} "
                "(limits.max_voxels of the presets)"
            )
        return v

    @field_validator("regimes")
    @classmethod
    def _names(cls, v: dict[str, int]) -> dict[str, int]:
        for name in v:
            if not name.replace("_", "").replace("-", "").isalnum() or len(name) > 100:
                raise ValueError(
                    f"regime name {name[:40]!r}: letters, digits, - and _ only, at most 100"
                )
        return v

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique, got {names}")
        if SCRATCH not in names or self.arms[names.index(SCRATCH)].preset is not None:
            raise ValueError(f"one arm must be {{name: {SCRATCH}}} without a preset (the baseline)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        for regime, n in self.regimes.items():
            for k, fold in enumerate(self.folds):
                if n > len(fold.train):
                    raise ValueError(
                        f"regime {regime} takes {n} training cases; fold {k} has {len(fold.train)}"
                    )
        return self

    def quick_version(self) -> StudySpec:
        """The same study at smoke size (``--quick``)."""
        q = self.quick
        pre = {**self.pretrain, "iterations": q.pretrain_iterations}
        pre["warmup_steps"] = min(int(pre.get("warmup_steps", 0)), q.pretrain_iterations - 1)
        return self.model_copy(
            update={
                "folds": self.folds[: q.folds],
                "seeds": self.seeds[: q.seeds],
                "pretrain": pre,
                "curve_interval": q.curve_interval,
            }
        )


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study spec with the presets' file checks and strict safe YAML
    loader (size, type, duplicate keys, depth, aliases); bad input raises PresetError."""
    path = Path(path)
    data = read_preset_file(path)
    if not isinstance(data, dict):
        raise PresetError(f"{path}: a study must be a mapping of fields")
    try:
        return StudySpec.model_validate(data)
    except ValidationError as err:
        raise PresetError(format_error(err, str(path))) from None
