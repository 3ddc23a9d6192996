"""Centred voxel grids: reference coordinates of voxel centres and box -> index ranges.

A preset's reference grid (``volume.shape``) fixes the units (reference voxels); rendering
at another shape samples the same continuous scene, so a preset is resolution-independent.
"""

from __future__ import annotations

import math

import torch

from .types import Shape3


def axis_coords(n: int, ref: int, lo: int = 0, hi: int | None = None, device=None) -> torch.Tensor:
    """Reference coordinates of voxel centres ``lo..hi-1`` on an axis of ``n`` voxels."""
    step = ref / n
    idx = torch.arange(lo, n if hi is None else hi, device=device, dtype=torch.float32)
    return (idx + 0.5) * step - ref / 2.0


def box_to_slices(
    lo: list[float], hi: list[float], shape: Shape3, ref: Shape3
) -> tuple[slice, ...] | None:
    """Index slices of the voxels whose centres may lie in the world box; None if outside."""
    out = []
    for a in range(3):
        step = ref[a] / shape[a]
        i0 = max(0, math.floor((lo[a] + ref[a] / 2.0) / step - 0.5))
        i1 = min(shape[a], math.ceil((hi[a] + ref[a] / 2.0) / step - 0.5) + 1)
        if i1 <= i0:
            return None
        out.append(slice(i0, i1))
    return tuple(out)


def box_points(slices: tuple[slice, ...], shape: Shape3, ref: Shape3, device=None) -> torch.Tensor:
    """(N, 3) reference coordinates of the voxel centres inside ``slices`` (C order)."""
    axes = [
        axis_coords(shape[a], ref[a], slices[a].start, slices[a].stop, device) for a in range(3)
    ]
    return (
        torch.cartesian_prod(*axes)
        if all(len(x) > 1 for x in axes)
        else torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    )
