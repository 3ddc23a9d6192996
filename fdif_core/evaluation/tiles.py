"""A cheap validation curve: Dice over a fixed sample of patch tiles of the validation cases.

A sliding window over a full-size case (512 x 512 x 100+ voxels) costs thousands of network
passes; a study's learning curve needs one such pass per curve point and unit. The curve
points can instead score a fixed subset of the case's non-overlapping patch tiles: the tiles
of the regular grid (stride = patch) that hold foreground in the reference, ``windows`` of
them evenly spaced in grid order (the same tiles at every point and in every unit, so
curves stay comparable); a case with no more foreground tiles than that is scored by the
full sliding window, as before (small cases, such as the spine slabs, are unchanged). Each
tile is predicted alone (no blending); Dice per class is computed over the union of the
chosen tiles, per case, then averaged over cases and classes (a class absent from a case's
tiles is left out, as ``monai.metrics.compute_dice`` leaves it out). The final evaluation
of a unit is always the full sliding window in the original geometry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def tile_starts(shape: tuple[int, ...], patch: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Corners of the non-overlapping patch grid over ``shape`` (already >= patch)."""
    axes = [range(0, s - p + 1, p) for s, p in zip(shape, patch, strict=True)]
    return [(a, b, c) for a in axes[0] for b in axes[1] for c in axes[2]]


def chosen_tiles(label: torch.Tensor, patch: tuple[int, int, int], windows: int) -> list:
    """Up to ``windows`` tile corners holding foreground, evenly spaced in grid order."""
    fg = []
    for s in tile_starts(tuple(label.shape), patch):
        sl = tuple(slice(a, a + p) for a, p in zip(s, patch, strict=True))
        if bool((label[sl] > 0).any()):
            fg.append(s)
    if len(fg) <= windows:
        return fg
    idx = np.unique(np.linspace(0, len(fg) - 1, windows).round().astype(int))
    return [fg[i] for i in idx]


def _pad_to(x: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """Zero-pad the trailing three axes up to the patch (the sliding window's constant pad)."""
    pad: list[int] = []
    for s, p in zip(reversed(x.shape[-3:]), reversed(patch), strict=True):
        pad += [0, max(p - s, 0)]
    return F.pad(x, pad) if any(pad) else x


@torch.no_grad()
def tile_dice(
    forward: Callable[[torch.Tensor], torch.Tensor],
    cases: Any,
    patch: tuple[int, int, int],
    n_classes: int,
    windows: int,
    batch: int = 2,
    full: Callable[[dict[str, Any]], np.ndarray] | None = None,
) -> float:
    """Mean foreground Dice over the chosen tiles of every case (see the module).

    ``full``: per-class foreground Dice of a whole case (NaN where undefined); a case with
    at most ``windows`` foreground tiles is scored by it (the sliding window is cheap there).
    """
    scores: list[np.ndarray] = []
    for i in range(len(cases)):
        item = cases[i]
        image = _pad_to(torch.as_tensor(item["image"]).float().as_subclass(torch.Tensor), patch)
        label = _pad_to(torch.as_tensor(item["label"]).as_subclass(torch.Tensor), patch)[0].long()
        starts = chosen_tiles(label, patch, windows + 1)
        if full is not None and len(starts) <= windows:
            scores.append(np.asarray(full(item), np.float64).ravel())
            continue
        starts = chosen_tiles(label, patch, windows)
        tp = np.zeros(n_classes)
        psum = np.zeros(n_classes)
        rsum = np.zeros(n_classes)
        for k in range(0, len(starts), batch):
            group = starts[k : k + batch]
            sls = [tuple(slice(a, a + p) for a, p in zip(s, patch, strict=True)) for s in group]
            x = torch.stack([image[(slice(None), *sl)] for sl in sls])
            pred = forward(x).float().argmax(1).cpu()
            for j, sl in enumerate(sls):
                p, r = pred[j].ravel(), label[sl].ravel()
                psum += np.bincount(p.numpy(), minlength=n_classes)[:n_classes]
                rsum += np.bincount(r.numpy(), minlength=n_classes)[:n_classes]
                tp += np.bincount(p[p == r].numpy(), minlength=n_classes)[:n_classes]
        with np.errstate(invalid="ignore", divide="ignore"):
            dice = np.where(rsum > 0, 2 * tp / (psum + rsum), np.nan)
        scores.append(dice[1:])
    flat = np.concatenate(scores) if scores else np.zeros(0)
    flat = flat[~np.isnan(flat)]
    return float(flat.mean()) if flat.size else 0.0
