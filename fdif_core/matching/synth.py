"""The synthetic region: the engine's own displacement and mapper rendered at a scan's voxels.

A preset renders in reference voxels (its grid, G = the smallest edge, ``volume.spacing`` mm
each); a displacement is evaluated at x̂ = voxel coordinate / (G/2) and adds Δ·G/2 voxels
to the signed distance d, which the mapper turns into intensity (design units, clipped to
the preset's range). Here the scan region's voxel centres (mm, centred on the region) are
expressed in the preset's reference voxels, so a texture of the fitted preset fragment has
the same size in mm in the preset's volumes as in the scan.

Two models of a region:

- **textured** (the fit): the region lies inside an object at a depth ``d0`` where the
  mapper gives mid-range intensity; d = d0 + Δ(x). The object's own distance gradient is
  the shape's business, not the texture's, and is left out.
- **ball** (the histogram-only fit, what "Match" did before): no displacement; d is the
  signed distance of a ball enclosing the region, so the mapper can only turn a smooth
  radial gradient into the region's histogram.

Intensities in scan units are ``scale · design + offset``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.textures.displacements import Displacement
from ..engine.textures.mappers import Mapper


@dataclass(frozen=True)
class Frame:
    """The preset frame a fragment is fitted for: grid edge G (voxels), voxel spacing (mm per
    array axis) and the intensity clip (design units)."""

    G: float = 40.0
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    clip: tuple[float, float] = (0.0, 128.0)

    @property
    def half(self) -> float:
        return self.G / 2.0

    def cell_mm(self, frequency: float) -> float:
        """Lattice cell (mm, mean over axes) of gradient noise at ``frequency`` (x̂ units)."""
        return self.half * float(np.mean(self.spacing)) / frequency

    def frequency(self, cell_mm: float) -> float:
        """The gradient-noise frequency whose lattice cell is ``cell_mm``."""
        return self.half * float(np.mean(self.spacing)) / cell_mm


def frame_of(preset) -> Frame:
    """The frame of a loaded preset (``fdif_core.presets.Preset``)."""
    spec = preset.engine_spec()
    return Frame(float(min(spec.shape)), tuple(float(s) for s in preset.volume.spacing),
                 tuple(float(c) for c in spec.clip))  # type: ignore[arg-type]  # fmt: skip


def points(shape: tuple[int, ...], spacing: tuple[float, ...], frame: Frame) -> torch.Tensor:
    """x̂ of the voxel centres of a box of ``shape`` at ``spacing`` mm, centred: (N, 3)."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * s / ps / frame.half
            for n, s, ps in zip(shape, spacing, frame.spacing, strict=True)]  # fmt: skip
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return torch.from_numpy(grid.astype(np.float32))


def texture(name: str, params: dict[str, float]) -> Displacement:
    return Displacement(name, "gradient_noise", dict(params))


def unit_noise(x: torch.Tensor, frequency: float, octaves: int, persistence: float,
               seed: int) -> np.ndarray:  # fmt: skip
    """The engine's gradient noise at amplitude 1 on points ``x`` (x̂), float64."""
    inst = texture("unit", {"amplitude": 1.0, "frequency": frequency, "octaves": octaves,
                            "persistence": persistence, "seed": seed})  # fmt: skip
    return inst(x).double().numpy()


@dataclass(frozen=True)
class MapperChoice:
    """A mapper, the depth d0 (voxels) the region sits at, and the scan-unit affine."""

    mapper: Mapper
    depth: float
    scale: float
    offset: float

    def design(self, delta_vox: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
        d = torch.from_numpy(np.asarray(self.depth + delta_vox, dtype=np.float32))
        return self.mapper(d).clamp(*clip).double().numpy()

    def scan_units(self, delta_vox: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
        return self.scale * self.design(delta_vox, clip) + self.offset


def mid_depth(family: str, params: dict[str, float], clip: tuple[float, float]) -> float:
    """The depth (d <= 0, voxels) where the mapper gives the middle of the clip range."""
    mid = 0.5 * (clip[0] + clip[1])
    peak = params.get("peak", 128.0)
    if family == "linear":
        return -(peak - mid) / params["slope"]
    if family == "exponential":
        return math.log(mid / peak) / math.log(params["base"])
    raise ValueError(f"no mid depth for mapper family {family!r}")


def ball_distance(shape: tuple[int, ...], spacing: tuple[float, ...], frame: Frame) -> np.ndarray:
    """Signed distance (preset voxels) of a ball enclosing the region box, on its voxels."""
    x = points(shape, spacing, frame).double().numpy() * frame.half
    r = float(np.sqrt((x**2).sum(-1)).max()) + 1.0
    return (np.sqrt((x**2).sum(-1)) - r).reshape(shape)
