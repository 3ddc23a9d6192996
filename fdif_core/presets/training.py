"""What the ``pretrain:`` and ``finetune:`` sections share: one training recipe, one
augmentation block, one AMP table. Each section adds its own fields (``pretrain.py``,
``finetune.py``); a field that was renamed is refused with a line naming its new name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .base import Strict

AmpName = Literal["off", "bf16", "fp16"]
AMP_DTYPES: dict[str, torch.dtype | None] = {
    "off": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def amp_dtype(name: str) -> torch.dtype | None:
    """The autocast dtype of an ``amp:`` value (None: full precision)."""
    return AMP_DTYPES[name]


def refuse_renamed(data: Any, renamed: dict[str, str]) -> Any:
    """Raise a one-line error for an old field name (``renamed``: old -> new)."""
    if isinstance(data, dict):
        for old, new in renamed.items():
            if old in data:
                raise ValueError(f"{old} was renamed: use {new}")
    return data


class AugmentConfig(Strict):
    """Random crops and augmentations of each training volume (MONAI, seeded per sample)."""

    RENAMED: ClassVar[dict[str, str]] = {
        "intensity_shift": "shift_intensity",
        "intensity_shift_prob": "intensity_prob",
    }

    crops_per_volume: PositiveInt = Field(1, description="random crops taken from each volume")
    flip_prob: float = Field(0.1, ge=0.0, le=1.0, description="flip probability, per axis")
    rot90_prob: float = Field(0.1, ge=0.0, le=1.0, description="random 90-degree rotation")
    rotate_deg: NonNegativeFloat = Field(0.0, description="max rotation about each axis")
    rotate_prob: float = Field(0.0, ge=0.0, le=1.0)
    scale_intensity: NonNegativeFloat = Field(0.0, description="intensity scale factor range ±")
    shift_intensity: NonNegativeFloat = Field(0.1, description="intensity shift range ±")
    intensity_prob: float = Field(0.5, ge=0.0, le=1.0, description="of the scale and the shift")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return refuse_renamed(data, cls.RENAMED)


class TrainConfig(Strict):
    """The training recipe shared by pre-training and fine-tuning."""

    RENAMED: ClassVar[dict[str, str]] = {}

    model: str = Field("unet_small", description="a name in fdif_core.networks.NETWORKS")
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments overriding the network's defaults"
    )
    patch_size: tuple[PositiveInt, PositiveInt, PositiveInt] = (32, 32, 32)
    batch_size: PositiveInt = Field(1, description="volumes (cases) per step and rank")
    iterations: PositiveInt = 200
    optimizer: Literal["adamw", "sgd"] = Field(
        "adamw", description="adamw, or sgd (Nesterov, momentum 0.99) as nnU-Net"
    )
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-5
    schedule: Literal["cosine", "poly", "constant"] = Field(
        "cosine", description="after the linear warm-up: cosine, nnU-Net's poly (0.9), constant"
    )
    warmup_steps: NonNegativeInt = 10
    loss: Literal["dice_ce", "dice", "ce"] = "dice_ce"
    amp: AmpName = Field(
        "off", description="mixed precision: bf16 autocast, or fp16 autocast with a grad scaler"
    )
    grad_accum: PositiveInt = Field(1, description="micro-batches accumulated per step")
    grad_clip: PositiveFloat | None = Field(12.0, description="max gradient norm; null = off")
    val_interval: NonNegativeInt = Field(
        0, description="validate every N steps (0: at the end only)"
    )
    checkpoint_interval: PositiveInt = 100
    num_workers: NonNegativeInt = Field(0, description="DataLoader worker processes")
    augment: AugmentConfig = AugmentConfig()

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return refuse_renamed(data, cls.RENAMED)

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from ..networks import NETWORKS

        NETWORKS.get(v)  # UnknownNameError (a ValueError) lists the allowed names
        return v

    @field_validator("model_kwargs")
    @classmethod
    def _known_kwargs(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _network_check(v, info, "model_kwargs", (64, 64, 64), v)

    @field_validator("patch_size")
    @classmethod
    def _fits_network(cls, v: tuple[int, int, int], info: ValidationInfo) -> Any:
        return _network_check(v, info, "patch_size", v, info.data.get("model_kwargs"))

    @model_validator(mode="after")
    def _warmup(self) -> TrainConfig:
        if self.warmup_steps >= self.iterations:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be below iterations ({self.iterations})"
            )
        return self


def _network_check(value: Any, info: ValidationInfo, what: str, patch: Any, kwargs: Any) -> Any:
    """The network's own check of ``what`` (patch size or options), as a field error."""
    from ..networks import NETWORKS

    model = info.data.get("model")
    if model is None or kwargs is None:  # the model (or kwargs) failed on its own already
        return value
    problem = NETWORKS.get(model).problem(patch, kwargs)
    if problem and problem.startswith((what + ":", what + ".")):  # "model_kwargs.width: ..."
        raise ValueError(problem.removeprefix(what).lstrip(":.").strip())
    return value
