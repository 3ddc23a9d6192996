"""Type aliases shared across the engine."""

from __future__ import annotations

from typing import TypeAlias

import torch

Points: TypeAlias = torch.Tensor
"""(N, 3) float32 points, in reference voxels, centred on the volume centre."""
Points2D: TypeAlias = torch.Tensor
"""(N, 2) float32 points in a section plane."""
Field: TypeAlias = torch.Tensor
"""(N,) float32 signed distances (negative inside)."""
Range: TypeAlias = tuple[float, float]
"""Closed interval (low, high) for uniform sampling."""
Params: TypeAlias = dict[str, object]
"""Concrete, JSON-serialisable parameters of one sampled object part."""
Device: TypeAlias = str | torch.device
Shape3: TypeAlias = tuple[int, int, int]
