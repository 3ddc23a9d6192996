"""The scan region a texture is fitted to: a box of voxel index ranges, or one label.

Index ranges follow the file's array axes (i, j, k) in the order nibabel returns the array;
``I0:I1`` is half-open (voxels I0 .. I1 - 1), as in numpy. The region keeps its bounding box
of intensities, the mask of its voxels inside that box, the scan's spacing (mm) and the
affine of the box (the scan's affine moved to the box's first voxel), so a synthetic region
written with it lies exactly over the real one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ArgumentError

MIN_VOXELS = 64  # fewer voxels give no histogram or spectrum worth fitting
MIN_EDGE = 4  # the box needs this many voxels along at least two axes


@dataclass(frozen=True)
class ScanRegion:
    """Intensities of a scan region: ``data`` (its bounding box, scan units), ``mask``
    (the region's voxels in that box), ``spacing`` (mm per array axis), ``affine`` (box
    voxel -> world mm), ``start`` (the box's first voxel in the scan) and a ``name``."""

    data: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    start: tuple[int, int, int]
    name: str

    @property
    def values(self) -> np.ndarray:
        return self.data[self.mask]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


def parse_roi(text: str, shape: tuple[int, ...]) -> tuple[slice, slice, slice]:
    """``"I0:I1,J0:J1,K0:K1"`` -> three slices within ``shape`` (half-open, non-empty)."""
    parts = [p.strip() for p in str(text).split(",")]
    form = "give I0:I1,J0:J1,K0:K1 (voxel index ranges, I1 excluded)"
    if len(parts) != 3:
        raise ArgumentError("roi", f"{len(parts)} ranges; {form}", text)
    out = []
    for axis, (part, n) in enumerate(zip(parts, shape, strict=True)):
        m = re.fullmatch(r"\s*(-?\d+)\s*:\s*(-?\d+)\s*", part)
        if not m:
            raise ArgumentError("roi", f"range {part!r} of axis {axis}: {form}", text)
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo < 0 or hi > n:
            raise ArgumentError("roi", f"axis {axis}: {lo}:{hi} is outside 0:{n}", text)
        if hi <= lo:
            raise ArgumentError("roi", f"axis {axis}: {lo}:{hi} is empty or reversed", text)
        out.append(slice(lo, hi))
    return out[0], out[1], out[2]


def _load(path: str | Path, what: str):
    import nibabel as nib

    p = Path(path)
    if not p.is_file():
        raise ArgumentError(what, "no such file" if not p.exists() else "not a file", p)
    try:
        img = nib.load(str(p))
        shape = tuple(int(n) for n in img.shape)
    except Exception as err:  # nibabel raises many kinds for a file it cannot parse
        raise ArgumentError(what, f"cannot read as NIfTI ({err})", p) from None
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise ArgumentError(what, f"a 3D image is needed, got shape {shape}", p)
    return img, shape


def _array(img, box: tuple[slice, ...] | None = None) -> np.ndarray:
    obj = img.dataobj
    sl = box if box is not None else (slice(None),) * 3
    arr = np.asanyarray(obj[sl] if len(img.shape) == 3 else obj[(*sl, 0)])
    return np.asarray(arr)


def _name(path: Path) -> str:
    stem = path.name[: -len(".nii.gz")] if path.name.lower().endswith(".nii.gz") else path.stem
    return re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_") or "scan"


def load_region(
    scan: str | Path,
    roi: str | None = None,
    mask: str | Path | None = None,
    label: int | None = None,
) -> ScanRegion:
    """Read the region of ``scan``: the ``roi`` box, the voxels of ``label`` in ``mask``, or
    both (the label's voxels inside the box). Bad input raises ArgumentError (one line)."""
    img, shape = _load(scan, "scan")
    if (mask is None) != (label is None):
        raise ArgumentError("label" if label is None else "mask", "--mask and --label go together")
    if roi is None and mask is None:
        raise ArgumentError("roi", "give --roi I0:I1,J0:J1,K0:K1 or --mask with --label")
    box = parse_roi(roi, shape) if roi is not None else (slice(0, shape[0]),
                                                         slice(0, shape[1]),
                                                         slice(0, shape[2]))  # fmt: skip
    sel = np.ones(tuple(s.stop - s.start for s in box), bool)
    if mask is not None:
        mimg, mshape = _load(mask, "mask")
        if mshape != shape:
            raise ArgumentError("mask", f"shape {mshape} differs from the scan's {shape}", mask)
        if not np.allclose(mimg.affine, img.affine, atol=1e-2):
            raise ArgumentError("mask", "its affine differs from the scan's (another grid)", mask)
        labels = _array(mimg, box)
        if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
            raise ArgumentError("mask", "holds values that are not whole label numbers", mask)
        sel = labels == label
        if not sel.any():
            present = np.unique(labels[labels != 0]).astype(int)[:10].tolist()
            where = " inside --roi" if roi is not None else ""
            raise ArgumentError("label", f"no voxel has it{where}; present: {present or 'none'}",
                                label)  # fmt: skip
        nz = np.nonzero(sel)
        inner = tuple(slice(int(i.min()), int(i.max()) + 1) for i in nz)
        sel = sel[inner]
        pairs = zip(box, inner, strict=True)
        box = tuple(slice(b.start + s.start, b.start + s.stop) for b, s in pairs)
    data = _array(img, box).astype(np.float64)
    vals = data[sel]
    if not np.isfinite(vals).all():
        bad = int((~np.isfinite(vals)).sum())
        raise ArgumentError("scan", f"{bad} region voxels are NaN or infinite", scan)
    if vals.size < MIN_VOXELS or sum(n >= MIN_EDGE for n in data.shape) < 2:
        raise ArgumentError("roi", f"region of {vals.size} voxels, box {data.shape}: needs at "
                            f"least {MIN_VOXELS} voxels and {MIN_EDGE} along two axes")  # fmt: skip
    aff = np.asarray(img.affine, dtype=np.float64)
    start = tuple(int(s.start) for s in box)
    moved = aff.copy()
    moved[:3, 3] = aff[:3, :3] @ np.asarray(start, dtype=np.float64) + aff[:3, 3]
    spacing = tuple(float(x) for x in np.linalg.norm(aff[:3, :3], axis=0))
    if not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise ArgumentError("scan", f"voxel spacing {spacing} from its affine is not usable", scan)
    return ScanRegion(data, sel, spacing, moved, start, _name(Path(scan)))  # type: ignore[arg-type]


def region_from_array(
    data: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, ...],
    affine: np.ndarray | None = None,
    name: str = "region",
) -> ScanRegion:
    """A region from arrays (the studio's drawn region): cropped to the mask's bounding box."""
    d, m = np.asarray(data, dtype=np.float64), np.asarray(mask, dtype=bool)
    if d.shape != m.shape or d.ndim != 3:
        raise ArgumentError("mask", f"shape {m.shape} does not match the scan's {d.shape}")
    if not m.any():
        raise ArgumentError("mask", "the region is empty: draw or paint it on the scan first")
    nz = np.nonzero(m)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in nz)
    vals = d[box][m[box]]
    if not np.isfinite(vals).all():
        raise ArgumentError("scan", "region voxels are NaN or infinite")
    if vals.size < MIN_VOXELS or sum(s.stop - s.start >= MIN_EDGE for s in box) < 2:
        raise ArgumentError("mask", f"region of {vals.size} voxels: needs at least "
                            f"{MIN_VOXELS} voxels and {MIN_EDGE} along two axes")  # fmt: skip
    aff = np.diag([*map(float, spacing), 1.0]) if affine is None else np.asarray(affine, float)
    start = tuple(int(s.start) for s in box)
    moved = aff.copy()
    moved[:3, 3] = aff[:3, :3] @ np.asarray(start, dtype=np.float64) + aff[:3, 3]
    sp = tuple(float(x) for x in spacing)
    return ScanRegion(d[box], m[box], sp, moved, start, name)  # type: ignore[arg-type]
