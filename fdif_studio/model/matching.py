"""Match a texture to a scan region: a thin call into ``fdif_core.matching``, the very fit
``fdif-core match`` runs, in the frame of the preset being edited; and "apply".

The fit finds a gradient-noise displacement (cell size in mm, octaves, persistence) and a
mapper with an intensity scale to scan units (docs/studio.md, "Matching a texture to a
scan"); the comparison view (``panels.compare``) draws what this module computes.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from fdif_core.matching import Frame, MatchResult, fit_region, region_from_array
from fdif_core.presets.preset import InstanceSpec

from .analysis import histogram

VIEWS = ("axial", "coronal", "sagittal")
WORLD_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}  # the world axis a view looks along


def frame_of(session: Any) -> Frame:
    """The fit's frame: the edited preset's grid edge, voxel spacing and intensity clip."""
    base = session.draft.base
    return Frame(float(min(session.draft.shape)), tuple(float(s) for s in base.volume.spacing),
                 tuple(float(c) for c in base.intensity.clip))  # type: ignore[arg-type]  # fmt: skip


def match_region(
    session: Any,
    data: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, ...],
    affine: np.ndarray | None = None,
    name: str = "region",
    seed: int = 0,
) -> MatchResult:
    """Fit a texture and a mapper to the region ``mask`` of ``data``; kept as the session's
    match (the Scan panel's region layer is the mask; data in scan units)."""
    clean = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "region"
    region = region_from_array(data, mask, spacing, affine, name=clean)
    result = fit_region(region, frame_of(session), seed=seed)
    session.match = result
    return result


def apply(session: Any, result: MatchResult, prefix: str | None = None) -> tuple[str, str]:
    """Add the fitted displacement and mapper to the preset being edited (enabled; an
    instance of the same name is replaced) and give them to the design; their names."""
    frag = result.fragment(prefix)
    disp = frag["displacements"]["enabled"][0]
    mapper = frag["mappers"]["enabled"][0]
    session.design.set_displacement(disp["family"], dict(disp["params"]))  # checks first
    session.design.set_mapper(mapper["family"], dict(mapper["params"]))
    session.draft.add_instance("displacement", InstanceSpec(**disp))
    session.draft.add_instance("mapper", InstanceSpec(**mapper))
    return disp["name"], mapper["name"]


def histograms(result: MatchResult, bins: int = 48) -> dict[str, np.ndarray]:
    """Densities on one bin grid (scan units): the region, the histogram-only fit (before)
    and the texture fit (after), over the region's voxels; key ``edges`` holds the bins."""
    m = result.region.mask
    series = {"region": result.region.values, "before": result.histogram_only[m],
              "after": result.fitted[m]}  # fmt: skip
    lo = min(float(np.percentile(v, 0.5)) for v in series.values())
    hi = max(float(np.percentile(v, 99.5)) for v in series.values())
    out = {k: histogram(v, bins, (lo, hi)).density for k, v in series.items()}
    out["edges"] = histogram(series["region"], bins, (lo, hi)).edges
    return out


def view_axis(affine: np.ndarray, view: str) -> int:
    """The array axis a view slices along: the one whose direction is closest to the view's
    world axis (axial: z, coronal: y, sagittal: x), from the scan's affine."""
    if view not in WORLD_AXIS:
        raise ValueError(f"view {view!r}; allowed: {', '.join(VIEWS)}")
    cols = np.abs(np.asarray(affine, float)[:3, :3])
    cols = cols / np.maximum(cols.sum(axis=0, keepdims=True), 1e-12)
    return int(np.argmax(cols[WORLD_AXIS[view]]))


def slices(
    result: MatchResult, view: str, index: int | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float], int]:
    """The region's and the fit's slice ``index`` (default: the middle) of ``view``, the
    same plane of both, their mm extent (left, right, bottom, top) and the index used.
    Rows are the first remaining array axis, columns the second (one orientation)."""
    axis = view_axis(result.region.affine, view)
    n = result.region.shape[axis]
    i = n // 2 if index is None else int(min(max(index, 0), n - 1))
    a = np.take(result.region.data, i, axis=axis)
    b = np.take(result.fitted, i, axis=axis)
    rows, cols = (k for k in range(3) if k != axis)
    sp = result.region.spacing
    extent = (0.0, a.shape[1] * sp[cols], a.shape[0] * sp[rows], 0.0)
    return a, b, extent, i


def window(result: MatchResult) -> tuple[float, float]:
    """A shared window for both images: the region's 1-99 % range."""
    lo, hi = np.percentile(result.region.values, [1.0, 99.0])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def distances_text(result: MatchResult) -> str:
    b, a, std = result.before, result.after, result.region_std
    return (
        f"histogram W1 {b.w1:.2f} → {a.w1:.2f} scan units ({a.w1 / std:.2f} × std); "
        f"spectrum W1 {b.spectrum:.4f} → {a.spectrum:.4f} cycles/mm; "
        f"intensity scale: scan = {result.scale:.3g} · design + {result.offset:.3g}; "
        f"texture cell {result.cell_mm:.2f} mm, {int(result.texture_params['octaves'])} octaves"
    )
