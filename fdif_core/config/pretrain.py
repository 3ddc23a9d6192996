"""The preset's ``pretrain:`` section (filled in by the pre-training issue)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PretrainConfig(BaseModel):
    """Pre-training recipe; every field has the quickstart-safe default."""

    model_config = ConfigDict(extra="forbid")

    model: str = "unet_small"
