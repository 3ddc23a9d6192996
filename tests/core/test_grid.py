"""Block enumeration of the culling: oriented boxes keep every block that meets them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fdif_core.engine import grid


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _meets(
    starts: torch.Tensor, stops: list[int], a, b, half, size: int, radius: float | None = None
) -> torch.Tensor:
    """Brute force: whether any voxel of each block maps into the box |A v + b| <= half
    (and the cylinder |(A v + b)[:2]| <= radius)."""
    out = []
    for s in starts.tolist():
        axes = [np.arange(x, min(x + size, e)) for x, e in zip(s, stops, strict=True)]
        vox = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        img = vox @ a.T + b
        inside = (np.abs(img) <= np.asarray(half)).all(1)
        if radius is not None:
            inside &= np.hypot(img[:, 0], img[:, 1]) <= radius
        out.append(bool(inside.any()))
    return torch.tensor(out)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cylinder", [False, True])
def test_blocks_in_box_keeps_every_block_meeting_the_box_in_order(
    seed: int, cylinder: bool
) -> None:
    rng = np.random.default_rng(seed)
    size = 4
    a = _rotation(rng) * rng.uniform(0.5, 1.5, size=3)  # rotation and stretch per axis
    b = rng.uniform(-10.0, 10.0, size=3) - a @ np.array([20.0, 13.0, 20.0])  # near the middle
    half = tuple(rng.uniform(2.0, 9.0, size=3))
    radius = float(rng.uniform(0.5, 1.0) * min(half[:2])) if cylinder else None
    sl = (slice(4, 39), slice(0, 26), slice(8, 33))  # partial blocks at every far face
    stops = [s.stop for s in sl]
    all_starts, all_centres = grid.blocks(sl, size)
    starts, centres = grid.blocks_in_box(sl, size, stops, (a, b), half, radius=radius)
    assert 0 < len(starts) < len(all_starts)
    # a subsequence of blocks(): the same starts and centres, in the same order
    key = {tuple(s): i for i, s in enumerate(all_starts.tolist())}
    pos = [key[tuple(s)] for s in starts.tolist()]
    assert pos == sorted(pos)
    assert torch.equal(all_centres[pos], centres)
    # nothing that meets the box is dropped
    meets = _meets(all_starts, stops, a, b, half, size, radius)
    kept = torch.zeros(len(all_starts), dtype=torch.bool)
    kept[pos] = True
    assert not (meets & ~kept).any()
    assert kept.sum() <= 2 * meets.sum() + 50  # and it is a tight cover, not everything
    if cylinder:  # fewer blocks than the box alone keeps
        assert len(starts) < len(grid.blocks_in_box(sl, size, stops, (a, b), half)[0])


def test_blocks_in_box_cylinder_along_the_rows() -> None:
    """Rows parallel to the cylinder's axis: kept whole inside its radius, dropped outside."""
    sl = (slice(0, 32), slice(0, 32), slice(0, 32))
    a, b = np.eye(3), -np.array([16.0, 16.0, 16.0])
    starts, _ = grid.blocks_in_box(sl, 4, [32, 32, 32], (a, b), (20.0,) * 3, radius=3.0)
    # the cylinder |(v0, v1) - 16| <= 3 meets the blocks starting at 12 and 16 on axes 0, 1
    assert sorted({tuple(s[:2]) for s in starts.tolist()}) == [
        (12, 12),
        (12, 16),
        (16, 12),
        (16, 16),
    ]
    assert len(starts) == 4 * 8


def test_blocks_in_box_axis_aligned_box_is_exact() -> None:
    """An unrotated box: a row parallel to an axis is clipped exactly (no rounding loss)."""
    sl = (slice(0, 32), slice(0, 32), slice(0, 32))
    a, b = np.eye(3), -np.array([16.0, 16.0, 16.0])
    starts, _ = grid.blocks_in_box(sl, 4, [32, 32, 32], (a, b), (5.0, 5.0, 5.0))
    # voxels 11..21 meet |v - 16| <= 5: blocks starting at 8, 12, 16, 20 on every axis
    assert sorted({s[0] for s in starts.tolist()}) == [8, 12, 16, 20]
    assert len(starts) == 4**3
