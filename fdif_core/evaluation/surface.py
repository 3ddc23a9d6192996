"""Dice and surface Dice (normalised surface distance, NSD) of label maps at full size.

Same definitions as MONAI's ``DiceMetric(ignore_empty=True)`` and ``SurfaceDiceMetric``
(``use_subvoxels=False``), computed so that the cost scales with the scan and the objects,
not with the number of boundary voxels:

- **Boundary** of class ``c`` (MONAI's ``get_mask_edges``): voxels of ``mask == c`` that a
  binary erosion with the 6-neighbour cross removes, the image border counting as outside.
  Found for every class at once by comparing the label map with its neighbours along each
  axis (one pass per axis, no erosion per class).
- **Surface Dice** at tolerance ``tau`` (mm): (boundary voxels of the prediction within
  ``tau`` of the reference boundary + reference boundary voxels within ``tau`` of the
  predicted boundary) / (all boundary voxels of both). Only "within ``tau``" matters, so
  each boundary voxel looks for a boundary voxel of its class in the other map at the voxel
  offsets within ``tau`` (with the spacing), nearest first, stopping at the first; voxels
  beyond ``tau`` of that class's bounding box are misses without a search. Large
  tolerances (many offsets) use Euclidean distance transforms (``scipy.ndimage.
  distance_transform_edt`` with the voxel spacing) in each reference class's padded box
  instead. MONAI 1.6 queries a KD-tree with every boundary voxel of the whole image, which
  a noisy prediction makes slow (millions of voxels).
- **Dice** from one confusion count (``torch.bincount`` of ``uint8`` codes) over the pair.

Empty cases follow MONAI: reference empty -> Dice NaN (ignored), surface Dice 0 if the
prediction has the class, NaN if neither has it; prediction empty -> 0 for both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage


def boundary(label: np.ndarray) -> np.ndarray:
    """Boolean map of the voxels that lie on the boundary of their own class.

    A voxel is on the boundary of class ``label[v]`` when one of its 6 face neighbours has
    another label or lies outside the image: exactly the voxels that MONAI's
    ``get_mask_edges`` (``mask ^ binary_erosion(mask)``, zero border) marks for that class.
    Background voxels are included (label 0); callers select classes.
    """
    edge = np.zeros(label.shape, dtype=bool)
    for axis in range(label.ndim):
        n = label.shape[axis]
        if n < 2:
            edge[...] = True  # every voxel touches the border along this axis
            return edge
        lo = [slice(None)] * label.ndim
        hi = [slice(None)] * label.ndim
        lo[axis], hi[axis] = slice(0, n - 1), slice(1, n)
        diff = label[tuple(lo)] != label[tuple(hi)]
        edge[tuple(lo)] |= diff
        edge[tuple(hi)] |= diff
        first = [slice(None)] * label.ndim
        first[axis] = 0
        edge[tuple(first)] = True
        first[axis] = n - 1
        edge[tuple(first)] = True
    return edge


def _dice_table(pred: np.ndarray, ref: np.ndarray, n: int) -> np.ndarray:
    """``(n, n)`` confusion counts: rows reference label, columns predicted label (one
    ``uint8`` code per voxel when ``n * n <= 256``, counted by ``torch.bincount``)."""
    dtype = np.uint8 if n * n <= 256 else np.int64
    code = ref.astype(dtype)  # a copy: the codes are built in place
    code *= dtype(n)
    code += pred.astype(dtype, copy=False)
    counts = torch.bincount(torch.from_numpy(code.reshape(-1)), minlength=n * n)
    return counts.numpy().reshape(n, n)


def _box(sl: tuple[slice, ...], pad: Sequence[int], shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(
        slice(max(s.start - p, 0), min(s.stop + p, n))
        for s, p, n in zip(sl, pad, shape, strict=True)
    )


def _check(pred: np.ndarray, ref: np.ndarray, n: int) -> None:
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} != reference {ref.shape}")
    for name, arr in (("prediction", pred), ("reference", ref)):
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name}: an integer label map is needed, got {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(f"{name} labels must lie in 0..{n - 1}")


def dice_scores(pred: np.ndarray, ref: np.ndarray, num_classes: int) -> np.ndarray:
    """Dice of every foreground class (``DiceMetric(ignore_empty=True)``: NaN where the
    reference lacks the class)."""
    pred, ref, n = np.asarray(pred), np.asarray(ref), int(num_classes)
    _check(pred, ref, n)
    table = _dice_table(pred, ref, n)
    inter = np.diag(table).astype(np.float64)
    size_ref, size_pred = table.sum(1).astype(np.float64), table.sum(0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(size_ref > 0, 2 * inter / (size_ref + size_pred), np.nan)[1:]


def surface_dice(
    pred: np.ndarray,
    ref: np.ndarray,
    num_classes: int,
    spacing: Sequence[float],
    tolerances: Sequence[float] = (1.0, 2.0),
) -> np.ndarray:
    """Surface Dice ``(len(tolerances), num_classes - 1)`` of every foreground class
    (``SurfaceDiceMetric``: NaN where neither map has the class).

    Tolerances whose ball holds at most :data:`OFFSET_LIMIT` voxel offsets (the usual case:
    1 and 2 mm at CT spacings) look for the other boundary at those offsets around each
    boundary voxel (:func:`_ball_distances`); larger ones use distance transforms in each
    class's box (:func:`_box_distances`). Both give MONAI's values.
    """
    pred, ref, n = np.asarray(pred), np.asarray(ref), int(num_classes)
    _check(pred, ref, n)
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != pred.ndim:
        raise ValueError(f"spacing {spacing} does not have one value per axis of {pred.shape}")
    tols = [float(t) for t in tolerances]
    nsd = np.full((len(tols), n - 1), np.nan)
    if not tols:
        return nsd
    ball = _ball(spacing, max(tols))
    if ball is not None and len(ball[1]) <= OFFSET_LIMIT:
        lab_p, d_p, lab_r, d_r = _ball_distances(pred, ref, n, ball)
    else:
        lab_p, d_p, lab_r, d_r = _box_distances(pred, ref, n, spacing, max(tols))
    complete = np.bincount(lab_p, minlength=n) + np.bincount(lab_r, minlength=n)
    for k, tau in enumerate(tols):
        correct = np.bincount(lab_p[d_p <= tau], minlength=n)
        correct += np.bincount(lab_r[d_r <= tau], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            nsd[k] = np.where(complete > 0, correct / complete, np.nan)[1:]
    return nsd


#: Most voxel offsets within the largest tolerance for the offset search; beyond, EDTs.
OFFSET_LIMIT = 400


def _ball(spacing: tuple[float, ...], tau: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Voxel offsets ``(k, ndim)`` within ``tau`` mm and their distances (float32, as
    MONAI compares them; computed as ``distance_transform_edt`` does), nearest first; None
    when far more than :data:`OFFSET_LIMIT` offsets would have to be tried."""
    radius = [math.floor(tau / s) + 1 for s in spacing]
    if math.prod(2 * r + 1 for r in radius) > 8 * OFFSET_LIMIT:
        return None
    grid = np.indices([2 * r + 1 for r in radius]).reshape(len(spacing), -1)
    grid = grid - np.asarray(radius)[:, None]
    sq = grid.astype(np.float64) * np.asarray(spacing)[:, None]
    dist = np.sqrt(np.add.reduce(sq * sq, axis=0)).astype(np.float32)
    keep = dist <= tau
    order = np.argsort(dist[keep], kind="stable")
    return grid[:, keep].T[order], dist[keep][order]


def _edge_codes(label: np.ndarray, pad: Sequence[int]) -> np.ndarray:
    """Label of every boundary voxel of a foreground class, 0 elsewhere, in a zero frame
    of ``pad`` voxels per axis."""
    code = np.zeros([s + 2 * p for s, p in zip(label.shape, pad, strict=True)], label.dtype)
    inner = tuple(slice(p, p + s) for s, p in zip(label.shape, pad, strict=True))
    np.copyto(code[inner], label, where=boundary(label))
    return code


def _ball_distances(
    pred: np.ndarray, ref: np.ndarray, n: int, ball: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, ...]:
    """Class and distance to the other map's boundary of the same class (inf beyond the
    ball) of every foreground boundary voxel of ``pred``, then of ``ref``.

    A voxel farther than the ball from its class's bounding box in the other map is a miss
    without a search. The others try the offsets nearest first and leave at their first hit,
    so the cost is the boundary voxels near their class times the offsets they need.
    """
    offsets, dist = ball
    pad = np.abs(offsets).max(0) if offsets.size else np.zeros(pred.ndim, int)
    dtype = np.uint8 if n <= 256 else np.int32
    cp = _edge_codes(pred.astype(dtype, copy=False), pad)
    cr = _edge_codes(ref.astype(dtype, copy=False), pad)
    steps = offsets @ np.asarray([int(np.prod(cp.shape[a + 1 :])) for a in range(cp.ndim)])
    out: list[np.ndarray] = []
    for src, dst in ((cp, cr), (cr, cp)):
        lo = np.full((n, dst.ndim), np.iinfo(np.int64).max)
        hi = np.full((n, dst.ndim), -1)
        for c, box in enumerate(ndimage.find_objects(dst, max_label=n - 1), start=1):
            if box is not None:
                lo[c] = [sl.start - p for sl, p in zip(box, pad, strict=True)]
                hi[c] = [sl.stop - 1 + p for sl, p in zip(box, pad, strict=True)]
        flat, other = src.ravel(), dst.ravel()
        every = np.flatnonzero(flat)
        labs, found = flat[every], np.full(every.size, np.inf, np.float32)
        for i in range(0, every.size, CHUNK):
            idx, lab = every[i : i + CHUNK], labs[i : i + CHUNK]
            near, rest = np.ones(idx.size, bool), idx
            for axis in range(src.ndim - 1, -1, -1):
                rest, coord = np.divmod(rest, src.shape[axis])
                near &= (coord >= lo[lab, axis]) & (coord <= hi[lab, axis])
            todo = np.flatnonzero(near) + i
            idx, lab = every[todo], labs[todo]
            for step, d in zip(steps, dist, strict=True):
                hit = other[idx + step] == lab
                if hit.any():
                    found[todo[hit]] = d
                    miss = ~hit
                    todo, idx, lab = todo[miss], idx[miss], lab[miss]
                    if not todo.size:
                        break
        out += [labs, found]
    return tuple(out)


#: Boundary voxels searched at once by the offset search (bounds its temporary arrays).
CHUNK = 1 << 21


def _box_distances(
    pred: np.ndarray, ref: np.ndarray, n: int, spacing: tuple[float, ...], tau: float
) -> tuple[np.ndarray, ...]:
    """As :func:`_ball_distances`, by distance transforms in each reference class's
    bounding box padded by ``tau`` (boundary voxels outside it are beyond ``tau``)."""
    edge_p, edge_r = boundary(pred), boundary(ref)
    count_p = np.bincount(pred[edge_p].ravel(), minlength=n)
    boxes = ndimage.find_objects(ref.astype(np.int32, copy=False), max_label=n - 1)
    pad = [math.ceil(tau / s) + 1 for s in spacing]
    parts: list[tuple[np.ndarray, np.ndarray]] = [], []
    for c in range(1, n):
        d_pr, d_rp = np.zeros(0, np.float32), np.zeros(0, np.float32)
        if boxes[c - 1] is not None:
            box = _box(boxes[c - 1], pad, ref.shape)
            pe = edge_p[box] & (pred[box] == c)
            re = edge_r[box] & (ref[box] == c)
            d_pr = _distances_at(pe, re, spacing)  # predicted boundary -> reference boundary
            d_rp = _distances_at(re, pe, spacing)  # reference boundary -> predicted boundary
        d_pr = np.concatenate([d_pr, np.full(count_p[c] - d_pr.size, np.inf, np.float32)])
        for part, d in zip(parts, (d_pr, d_rp), strict=True):
            part.append((np.full(d.size, c, np.intp), d))
    out: list[np.ndarray] = []
    for part in parts:
        out += [np.concatenate([x[0] for x in part]), np.concatenate([x[1] for x in part])]
    return tuple(out)


def label_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    num_classes: int,
    spacing: Sequence[float],
    tolerances: Sequence[float] = (1.0, 2.0),
) -> dict[str, np.ndarray]:
    """Dice and surface Dice of every foreground class of an integer label-map pair.

    Args:
        pred, ref: integer label maps of one shape (values ``0 .. num_classes - 1``).
        num_classes: number of labels including the background.
        spacing: voxel spacing in mm, one value per axis.
        tolerances: surface Dice tolerances in mm.

    Returns:
        ``{"dice": a, "nsd": b}``: ``a`` of shape ``(num_classes - 1,)`` and ``b`` of shape
        ``(len(tolerances), num_classes - 1)``, NaN where MONAI returns NaN.
    """
    return {
        "dice": dice_scores(pred, ref, num_classes),
        "nsd": surface_dice(pred, ref, num_classes, spacing, tolerances),
    }


def _distances_at(at: np.ndarray, to: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Distances (mm, float32 as MONAI compares them) from each ``at`` voxel to ``to``."""
    if not at.any():
        return np.zeros(0, dtype=np.float32)
    if not to.any():
        return np.full(int(at.sum()), np.inf, dtype=np.float32)
    dist = ndimage.distance_transform_edt(~to, sampling=spacing)
    return dist[at].astype(np.float32)
