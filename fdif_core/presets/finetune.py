"""The preset's ``finetune:`` section: the shared training recipe plus preprocessing, transfer.

Defaults are CPU-safe (small U-Net, 32³ patches, a few hundred steps); the benchmark
presets under ``presets/finetune/`` set the published protocols (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Literal

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
from .training import AugmentConfig, TrainConfig


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


class FinetuneAugmentConfig(AugmentConfig):
    """The shared augmentation plus foreground/background crop sampling."""

    crops_per_volume: PositiveInt = Field(2, description="random crops per case and step")
    scale_intensity: NonNegativeFloat = Field(0.1, description="intensity scale factor range ±")
    pos: NonNegativeFloat = Field(1.0, description="weight of crops centred on foreground")
    neg: NonNegativeFloat = Field(1.0, description="weight of crops centred on background")

    @model_validator(mode="after")
    def _some_crop(self) -> FinetuneAugmentConfig:
        if self.pos + self.neg <= 0:
            raise ValueError("pos + neg must be positive")
        return self


class FinetuneConfig(TrainConfig):
    """Fine-tuning recipe: the shared training recipe plus transfer, preprocessing and
    sliding-window validation; every field has a CPU-safe default."""

    freeze_encoder_steps: NonNegativeInt = Field(
        0, description="first steps with the pre-trained encoder frozen (head warm-up)"
    )
    min_transferred: float = Field(
        0.5, gt=0.0, le=1.0, description="refuse weights that fill less of the model than this"
    )
    sw_overlap: float = Field(0.5, ge=0.0, lt=1.0, description="sliding-window overlap")
    sw_batch_size: PositiveInt = 2
    preprocess: PreprocessConfig = PreprocessConfig()
    augment: FinetuneAugmentConfig = FinetuneAugmentConfig()

    @model_validator(mode="after")
    def _freeze(self) -> FinetuneConfig:
        if self.freeze_encoder_steps >= self.iterations:
            raise ValueError("freeze_encoder_steps must be below iterations")
        return self
