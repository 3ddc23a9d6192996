"""The preset's ``pretrain:`` section: network, patch, optimiser, schedule, loss, augmentation.

Defaults are the quickstart-safe values (small U-Net, CPU); ``presets/fdif-paper.yaml`` sets
the paper's recipe (docs/method.md, Training recipe).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from .base import Strict


class AugmentConfig(Strict):
    """Random augmentations applied to each crop (MONAI transforms, seeded per sample)."""

    flip_prob: float = Field(0.1, ge=0.0, le=1.0, description="flip probability, per axis")
    rot90_prob: float = Field(0.1, ge=0.0, le=1.0, description="random 90-degree rotation")
    intensity_shift: NonNegativeFloat = Field(0.1, description="shift offset range (±, of [0,1])")
    intensity_shift_prob: float = Field(0.5, ge=0.0, le=1.0)


class PretrainConfig(Strict):
    """Pre-training recipe; every field has the quickstart-safe default."""

    task: Literal["segmentation", "classification"] = Field(
        "segmentation",
        description="segmentation of the label map, or primitive classification (one per volume)",
    )
    model: str = Field("unet_small", description="a name in fdif_core.training.networks.NETWORKS")
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments overriding the network's defaults"
    )
    patch_size: tuple[PositiveInt, PositiveInt, PositiveInt] = (32, 32, 32)
    batch_size: PositiveInt = Field(2, description="volumes per step and rank")
    crops_per_volume: PositiveInt = Field(1, description="random crops taken from each volume")
    num_volumes: PositiveInt | None = Field(
        None,
        description="cycle over the first N volumes (the paper: 5000); null = an endless stream",
    )
    iterations: PositiveInt = 300
    lr: PositiveFloat = 1e-3
    warmup_steps: NonNegativeInt = 20
    weight_decay: NonNegativeFloat = 1e-5
    loss: Literal["dice_ce", "dice", "ce"] = "dice_ce"
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off", description="mixed precision: bf16 autocast, or fp16 autocast with a grad scaler"
    )
    grad_accum: PositiveInt = Field(1, description="micro-batches accumulated per step")
    grad_clip: PositiveFloat | None = Field(12.0, description="max gradient norm; null = off")
    val_interval: PositiveInt = 100
    val_volumes: NonNegativeInt = Field(4, description="fixed synthetic validation volumes")
    checkpoint_interval: PositiveInt = 100
    num_workers: NonNegativeInt = Field(
        1, description="DataLoader worker processes rendering samples on the CPU (0 = inline)"
    )
    augment: AugmentConfig = AugmentConfig()

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from ..training.networks import NETWORKS

        NETWORKS.get(v)  # UnknownNameError (a ValueError) lists the allowed names
        return v

    @model_validator(mode="after")
    def _check(self) -> PretrainConfig:
        if self.warmup_steps >= self.iterations:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be below iterations ({self.iterations})"
            )
        from ..training.networks import NETWORKS

        problem = NETWORKS.get(self.model).problem(self.patch_size, self.model_kwargs)
        if problem:
            raise ValueError(problem)
        if self.task == "classification" and self.loss != "ce":
            raise ValueError("classification pre-training uses loss: ce")
        return self
