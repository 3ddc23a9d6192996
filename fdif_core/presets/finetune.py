"""The preset's ``finetune:`` section: network, patch, schedule, preprocessing, augmentation.

Defaults are CPU-safe (small U-Net, 32³ patches, a few hundred steps); the benchmark
presets under ``presets/finetune/`` set the published protocols (docs/benchmarks.md).
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


class PreprocessConfig(Strict):
    """How real scans are preprocessed (MONAI transforms, cached once per case)."""

    spacing: tuple[PositiveFloat, PositiveFloat, PositiveFloat] | None = Field(
        None, description="target spacing in mm (RAS order); null = the dataset's median"
    )
    normalization: Literal["auto", "ct", "window", "zscore", "none"] = Field(
        "auto",
        description="auto: CT -> window if ct_window else ct (foreground percentiles + z-score);"
        " other modalities -> per-image z-score",
    )
    ct_window: tuple[float, float] | None = Field(
        None, description="HU window scaled to [0, 1] (e.g. [-175, 250] for BTCV)"
    )
    crop_foreground: bool = True
    cache: Literal["disk", "memory", "none"] = Field(
        "disk", description="cache of preprocessed cases: RUN/cache (disk) or in memory"
    )

    @field_validator("ct_window")
    @classmethod
    def _ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and v[0] >= v[1]:
            raise ValueError(f"ct_window low {v[0]} must be below high {v[1]}")
        return v


class FinetuneAugmentConfig(Strict):
    """Random crops with foreground/background sampling, flips, rotations, intensity."""

    crops_per_volume: PositiveInt = Field(2, description="random crops per case and step")
    pos: NonNegativeFloat = Field(1.0, description="weight of crops centred on foreground")
    neg: NonNegativeFloat = Field(1.0, description="weight of crops centred on background")
    flip_prob: float = Field(0.1, ge=0.0, le=1.0, description="flip probability per axis")
    rot90_prob: float = Field(0.1, ge=0.0, le=1.0)
    rotate_deg: NonNegativeFloat = Field(0.0, description="max rotation about each axis")
    rotate_prob: float = Field(0.0, ge=0.0, le=1.0)
    scale_intensity: NonNegativeFloat = Field(0.1, description="intensity scale factor range ±")
    shift_intensity: NonNegativeFloat = Field(0.1, description="intensity shift range ±")
    intensity_prob: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _some_crop(self) -> FinetuneAugmentConfig:
        if self.pos + self.neg <= 0:
            raise ValueError("pos + neg must be positive")
        return self


class FinetuneConfig(Strict):
    """Fine-tuning recipe; every field has a CPU-safe default."""

    model: str = Field("unet_small", description="a name in fdif_core.training.networks.NETWORKS")
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    patch_size: tuple[PositiveInt, PositiveInt, PositiveInt] = (32, 32, 32)
    batch_size: PositiveInt = Field(1, description="cases per step and rank")
    iterations: PositiveInt = 200
    optimizer: Literal["adamw", "sgd"] = Field(
        "adamw", description="adamw, or sgd (Nesterov, momentum 0.99) as nnU-Net"
    )
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-5
    schedule: Literal["cosine", "poly", "constant"] = Field(
        "cosine", description="after warm-up: cosine decay, nnU-Net's poly (0.9), or constant"
    )
    warmup_steps: NonNegativeInt = 10
    freeze_encoder_steps: NonNegativeInt = Field(
        0, description="first steps with the pre-trained encoder frozen (head warm-up)"
    )
    min_transferred: float = Field(
        0.5, gt=0.0, le=1.0, description="refuse weights that fill less of the model than this"
    )
    loss: Literal["dice_ce", "dice", "ce"] = "dice_ce"
    amp: Literal["off", "bf16", "fp16"] = "off"
    grad_clip: PositiveFloat | None = 12.0
    val_interval: NonNegativeInt = Field(
        0, description="validate on the fold's val cases every N steps (0: at the end only)"
    )
    checkpoint_interval: PositiveInt = 100
    sw_overlap: float = Field(0.5, ge=0.0, lt=1.0, description="sliding-window overlap")
    sw_batch_size: PositiveInt = 2
    num_workers: NonNegativeInt = Field(0, description="DataLoader worker processes")
    preprocess: PreprocessConfig = PreprocessConfig()
    augment: FinetuneAugmentConfig = FinetuneAugmentConfig()

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        from ..training.networks import NETWORKS

        NETWORKS.get(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if self.warmup_steps >= self.iterations:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be below iterations ({self.iterations})"
            )
        if self.freeze_encoder_steps >= self.iterations:
            raise ValueError("freeze_encoder_steps must be below iterations")
        return self
