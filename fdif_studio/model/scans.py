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


VIEWS: dict[str, tuple[int, int, int]] = {
    # name: napari dims.order over the world axes (x, y, z = R, A, S of a NIfTI's affine):
    # the sliced axis first, then the rows and the columns shown
    "axial": (2, 1, 0),
    "coronal": (1, 2, 0),
    "sagittal": (0, 2, 1),
}
"""Scan views; world axes are the affine's (RAS mm), whatever the array's layout."""
VIEW_ORIENTATION = ("up", "left")
"""2D camera (vertical, horizontal) of every view, as a radiologist reads it: anterior
(axial) or superior (coronal, sagittal) up, the patient's right (+x) on the left."""


MASK_MAX_LABELS = 64


def is_mask(data: np.ndarray) -> bool:
    """Integer data with at most ``MASK_MAX_LABELS`` distinct values: a label mask."""
    return np.issubdtype(data.dtype, np.integer) and len(np.unique(data)) <= MASK_MAX_LABELS


def layer_data(scan: Scan) -> tuple[np.ndarray, dict[str, Any], str]:
    """napari layer data of a scan: a grayscale image (1-99 % window) with its units, or a
    labels layer for a mask; both placed by the affine."""
    meta = {"affine": scan.affine, "fdif_scan": True}
    if is_mask(scan.data):
        return scan.data, {"name": scan.name, "metadata": meta, **scan.layer_kwargs()}, "labels"
    meta["units"] = scan_units(scan.data)
    kwargs = {"name": scan.name, "colormap": "gray", "metadata": meta,
              "contrast_limits": window_limits("auto (1-99 %)", scan.data),
              **scan.layer_kwargs()}  # fmt: skip
    return scan.data, kwargs, "image"


def scan_units(data: np.ndarray) -> str:
    """``HU`` when the values reach air's Hounsfield range (a CT), else ``scan units``."""
    return "HU" if data.size and float(np.min(data)) < -200.0 else "scan units"


def rectangle_box(vertices: np.ndarray, shape: tuple[int, ...], slab: int = 1) -> np.ndarray:
    """The 3D box mask (``shape``) of a rectangle drawn on a slice in any view.

    ``vertices`` (4, 3) are in the scan's voxel indices; the axis on which they all agree
    is the slice's, and the box spans ``slab`` slices centred on it; along the other two
    it spans the voxels whose centres the rectangle covers.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(shape):
        raise ValueError(f"rectangle vertices {v.shape}: (4, {len(shape)}) expected")
    if int(slab) < 1:
        raise ValueError(f"slab {slab}: at least 1 slice")
    span = v.max(0) - v.min(0)
    flat = int(np.argmin(span))
    box = []
    for axis, n in enumerate(shape):
        if axis == flat:
            lo = round(float(v[0, axis])) - (int(slab) - 1) // 2
            hi = lo + int(slab) - 1
        else:
            lo, hi = int(np.ceil(v[:, axis].min() - 0.5)), int(np.floor(v[:, axis].max() + 0.5))
        lo, hi = max(lo, 0), min(hi, n - 1)
        if hi < lo:
            raise ValueError("the rectangle holds no voxel of the scan; draw it over the scan")
        box.append(slice(lo, hi + 1))
    mask = np.zeros(shape, bool)
    mask[tuple(box)] = True
    return mask
