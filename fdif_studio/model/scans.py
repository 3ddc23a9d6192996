"""Real scans: NIfTI volumes read through nibabel, placed in the world by their affine.

World coordinates are millimetres: a scan's voxel index i lies at ``affine @ [i, 1]``
(NIfTI's voxel-centre convention, which napari shares). Axis-aligned affines become a
layer ``scale`` and ``translate``; rotated or sheared ones are handed to napari whole as
the layer ``affine``. The studio's synthetic layers use the same millimetre frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SUFFIXES = (".nii", ".nii.gz")

WINDOWS: dict[str, tuple[float, float] | None] = {
    # name: (width, level); None = from the data (the preset's intensity range, or 1-99 %)
    "preset range": None,
    "auto (1-99 %)": None,
    "CT soft tissue": (400.0, 40.0),
    "CT lung": (1500.0, -600.0),
    "CT bone": (1800.0, 400.0),
    "CT brain": (80.0, 40.0),
    "CT liver": (150.0, 30.0),
}
"""Window presets a radiologist recognises (CT, Hounsfield units), plus data-driven ones."""


def is_nifti(path: str | Path) -> bool:
    return str(path).lower().endswith(SUFFIXES)


@dataclass(frozen=True)
class Scan:
    """A scan volume: data as stored (i, j, k), its voxel -> world (mm) affine, its name."""

    data: np.ndarray
    affine: np.ndarray
    name: str

    @property
    def spacing(self) -> tuple[float, float, float]:
        """mm per voxel along each data axis (column norms of the affine)."""
        return tuple(float(x) for x in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    def layer_kwargs(self) -> dict[str, Any]:
        """napari placement: ``scale``/``translate`` when axis-aligned, else ``affine``."""
        return placement(self.affine)


def placement(affine: np.ndarray) -> dict[str, Any]:
    a = np.asarray(affine, dtype=np.float64)
    lin = a[:3, :3]
    if np.allclose(lin, np.diag(np.diag(lin))) and (np.diag(lin) > 0).all():
        return {"scale": tuple(np.diag(lin)), "translate": tuple(a[:3, 3])}
    return {"affine": a}


def read_scan(path: str | Path) -> Scan:
    """Read a NIfTI scan (3D, or 4D with one volume); raise ValueError with the reason."""
    import nibabel as nib

    p = Path(path)
    try:
        img = nib.load(str(p))
        data = np.asanyarray(img.dataobj)
    except (OSError, nib.filebasedimages.ImageFileError, EOFError, ValueError) as err:
        raise ValueError(f"{p}: cannot read as NIfTI ({err})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{p}: a 3D scan is needed, got shape {data.shape}")
    name = p.name[: -len(".nii.gz")] if p.name.lower().endswith(".nii.gz") else p.stem
    return Scan(data, np.asarray(img.affine, dtype=np.float64), name)


def window_limits(name: str, data: np.ndarray | None, clip=(0.0, 128.0)) -> tuple[float, float]:
    """Contrast limits (low, high) of window preset ``name``."""
    if name not in WINDOWS:
        raise ValueError(f"window {name!r}; allowed: {', '.join(WINDOWS)}")
    wl = WINDOWS[name]
    if wl is not None:
        return width_level_to_limits(*wl)
    if name == "preset range" or data is None or data.size == 0:
        return float(clip[0]), float(clip[1])
    lo, hi = np.percentile(np.asarray(data, dtype=np.float64), [1.0, 99.0])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def width_level_to_limits(width: float, level: float) -> tuple[float, float]:
    if width <= 0:
        raise ValueError(f"window width {width}: must be > 0")
    return level - width / 2.0, level + width / 2.0
