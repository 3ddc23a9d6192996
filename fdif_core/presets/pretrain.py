"""The preset's ``pretrain:`` section: the shared training recipe plus the synthetic stream.

Defaults are the quickstart-safe values (small U-Net, CPU); ``presets/fdif-paper.yaml`` sets
the paper's recipe (docs/method.md, Training recipe).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from .training import TrainConfig


class PretrainConfig(TrainConfig):
    """Pre-training recipe; every field has the quickstart-safe default."""

    RENAMED: ClassVar[dict[str, str]] = {"crops_per_volume": "augment.crops_per_volume"}

    task: Literal["segmentation", "classification"] = Field(
        "segmentation",
        description="segmentation of the label map, or primitive classification (one per volume)",
    )
    patch_size: tuple[PositiveInt, PositiveInt, PositiveInt] = (32, 32, 32)
    batch_size: PositiveInt = Field(2, description="volumes per step and rank")
    num_volumes: PositiveInt | None = Field(
        None,
        description="cycle over the first N volumes (the paper: 5000); null = an endless stream",
    )
    iterations: PositiveInt = 300
    warmup_steps: NonNegativeInt = 20
    val_interval: NonNegativeInt = Field(100, description="validate every N steps (0: at the end)")
    val_volumes: NonNegativeInt = Field(4, description="fixed synthetic validation volumes")
    num_workers: NonNegativeInt = Field(
        1, description="DataLoader worker processes rendering samples on the CPU (0 = inline)"
    )

    @model_validator(mode="after")
    def _classification_loss(self) -> PretrainConfig:
        if self.task == "classification" and self.loss != "ce":
            raise ValueError("classification pre-training uses loss: ce")
        return self
