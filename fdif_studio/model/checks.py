"""One warning line when a displacement empties, fragments or swamps the object.

The design is rendered twice on a small grid (``CHECK_RES`` voxels along its longest
edge), with and without its displacement; the object's inside-voxel fraction and its
connected pieces are compared. A warning is given when the fraction changes by more than
``FACTOR`` (either way) or when the largest piece holds less than ``LARGEST`` of the
inside voxels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from .design import DesignRequest

FACTOR = 3.0
"""Inside-voxel fraction changed by more than this factor (up or down): warn."""
LARGEST = 0.9
"""Largest connected piece holds less than this share of the inside voxels: fragmented."""
CHECK_RES = 40


@dataclass(frozen=True)
class Check:
    """The displacement check of design ``version``: fractions and the warning ('' if none)."""

    version: int
    before: float  # inside-voxel fraction without the displacement
    after: float  # with it
    largest: float  # share of the inside voxels in the largest connected piece
    warning: str


def displacement_check(req: DesignRequest, resolution: int = CHECK_RES) -> Check | None:
    """Compare the object with and without its displacement; None without a displacement."""
    from .render import render_volumes

    if req.obj.displacement < 0:
        return None
    top = max(req.shape)
    shape = tuple(max(4, round(resolution * n / top)) for n in req.shape)
    small = replace(req, shape=shape, surface=False)
    with_d = render_volumes(small).label > 0
    without = render_volumes(replace(small, obj=replace(req.obj, displacement=-1))).label > 0
    before, after = float(without.mean()), float(with_d.mean())
    largest = 0.0
    if with_d.any():
        pieces, n = ndimage.label(with_d)
        largest = float(np.bincount(pieces.ravel())[1:].max() / with_d.sum()) if n else 0.0
    return Check(req.version, before, after, largest, warning_text(before, after, largest))


def warning_text(before: float, after: float, largest: float) -> str:
    """The one warning line (empty when the displacement keeps the object whole)."""
    if before <= 0.0:
        return ""
    name = f"inside voxels {100 * before:.1f} % → {100 * after:.1f} % of the grid"
    if after <= 0.0:
        return f"⚠ the displacement empties the object ({name}); lower its amplitude"
    ratio = after / before
    if ratio > FACTOR:
        return (f"⚠ the displacement swamps the grid ({name}, ×{ratio:.1f} > ×{FACTOR:g}); "
                "lower its amplitude")  # fmt: skip
    if ratio < 1.0 / FACTOR:
        return (f"⚠ the displacement nearly empties the object ({name}, ×{ratio:.2f} < "
                f"×1/{FACTOR:g}); lower its amplitude")  # fmt: skip
    if largest < LARGEST:
        return (
            f"⚠ the displacement fragments the object (largest piece {100 * largest:.0f} % "
            f"< {100 * LARGEST:.0f} % of the inside voxels); lower amplitude or frequency"
        )
    return ""
