"""Culling's per-block bound on the displacement (culling.block_reach, delta_lipschitz)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from fdif_core.engine import culling, grid
from fdif_core.engine.textures.displacements import DISPLACEMENTS
from fdif_core.presets import load_preset


def test_delta_lipschitz_known_values() -> None:
    """In reference voxels: world space (fdif-paper, 96^3, coordinates / 47, Δ x 47) keeps
    the family's constant; object space (fdif-exact) multiplies it by the pose's stretch."""
    for preset in ("fdif-paper", "fdif-exact"):
        r = load_preset(preset).recipe()
        names = [d.name for d in r.displacements]
        obj = dataclasses.replace(r.scene(0)[0], displacement=names.index("turbulence"))
        slope = math.sqrt(0.45**2 + 0.35**2 + 0.55**2) * 0.05 * 30.0
        stretch = obj.pose.lipschitz if preset == "fdif-exact" else 1.0
        assert culling.delta_lipschitz(r, obj) == pytest.approx(slope * stretch, rel=1e-12)
        saw = dataclasses.replace(obj, displacement=names.index("sawtooth"))
        assert culling.delta_lipschitz(r, saw) is None  # jumps: no constant


@pytest.mark.parametrize("preset", ["fdif-paper", "fdif-exact"])
@pytest.mark.parametrize("size", [4, 2])
def test_block_reach_bounds_delta_at_every_voxel_of_each_block(preset: str, size: int) -> None:
    """Brute force: at every voxel of a block, halo - Δ (what the undisplaced field may
    reach and still matter) is at most the block's limit, which never exceeds the global
    reach (halo + outreach) by more than the rounding slack and is tighter on average."""
    r = load_preset(preset).recipe()
    shape = r.shape
    names = [d.name for d in r.displacements]
    gen = torch.Generator().manual_seed(size)
    step = [a / b for a, b in zip(r.shape, shape, strict=True)]
    radius = 0.5 * (size - 1) * math.sqrt(sum(x * x for x in step))
    offsets = grid.cube_offsets(size, 1, torch.device("cpu")).to(torch.float32)
    checked = []
    for k, name in enumerate(names):
        obj = dataclasses.replace(r.scene(k)[0], displacement=k)
        halo, reach = r.mappers[obj.mapper].halo(), r.reach(obj)
        first = torch.stack([torch.randint(0, n - size, (300,), generator=gen) for n in shape], 1)
        centres = first.to(torch.float32) + 0.5 * (size - 1)
        world = r.world(grid.centre_points(centres, shape, r.shape), shape)
        local = r.frame_pose(obj).to_object(world)
        limit = culling.block_reach(r, obj, world, local, radius, reach)
        if DISPLACEMENTS.get(name).lipschitz() is None or not isinstance(limit, torch.Tensor):
            assert limit == reach, name
            continue
        vox = (first.to(torch.float32)[:, None, :] + offsets[None]).reshape(-1, 3)
        pts = r.world(grid.centre_points(vox, shape, r.shape), shape)
        delta = r.delta(obj, pts, r.frame_pose(obj).to_object(pts)).view(len(first), -1)
        assert bool((halo - delta.min(1).values <= limit + 1e-4).all()), name
        assert float(limit.max()) <= reach + 2e-3, name
        assert float(limit.mean()) < reach - 0.1, name
        checked.append(name)
    assert "turbulence" in checked and len(checked) >= (2 if size == 4 else 5), checked
