"""The preset's ``finetune:`` section (filled in by the fine-tuning issue)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FinetuneConfig(BaseModel):
    """Fine-tuning recipe."""

    model_config = ConfigDict(extra="forbid")

    model: str = "unet_small"
