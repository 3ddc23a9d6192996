"""Culling's per-block bound on the displacement (culling.block_reach, delta_lipschitz,
the sawtooth's bound over boxes)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from fdif_core.engine import culling, grid
from fdif_core.engine.textures import displacements as D
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
    half = [0.5 * (size - 1) * x for x in step]  # of the voxel centres, per axis
    offsets = grid.cube_offsets(size, 1, torch.device("cpu")).to(torch.float32)
    checked = []
    for k, name in enumerate(names):
        obj = dataclasses.replace(r.scene(k)[0], displacement=k)
        halo, reach = r.mappers[obj.mapper].halo(), r.reach(obj)
        first = torch.stack([torch.randint(0, n - size, (300,), generator=gen) for n in shape], 1)
        centres = first.to(torch.float32) + 0.5 * (size - 1)
        world = r.world(grid.centre_points(centres, shape, r.shape), shape)
        local = r.frame_pose(obj).to_object(world)
        limit = culling.block_reach(r, obj, world, local, half, reach)
        inst = DISPLACEMENTS.get(name)
        if inst.lipschitz() is None and inst.spec.lower is None:
            assert limit == reach, name
            continue
        if not isinstance(limit, torch.Tensor):  # too little to gain at this block size
            assert limit == reach and inst.lipschitz() is not None, name
            continue
        vox = (first.to(torch.float32)[:, None, :] + offsets[None]).reshape(-1, 3)
        pts = r.world(grid.centre_points(vox, shape, r.shape), shape)
        delta = r.delta(obj, pts, r.frame_pose(obj).to_object(pts)).view(len(first), -1)
        assert bool((halo - delta.min(1).values <= limit + 1e-4).all()), name
        assert float(limit.max()) <= reach + 2e-3, name
        assert size == 4 or float(limit.mean()) < reach - 0.1, name
        checked.append(name)
    assert {"turbulence", "sawtooth"} <= set(checked) and len(checked) >= 3 + 3 * (size == 2)


@pytest.mark.parametrize(("amplitude", "frequency"), [(0.03, 15.0), (-0.05, 15.0), (0.03, -40.0)])
def test_sawtooth_lower_bounds_every_point_of_each_box(amplitude: float, frequency: float) -> None:
    """Brute force: no point of a box (its corners, its drop points' neighbours and random
    points) lies below the bound, which is the exact minimum where no drop lies inside."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(400, 3, generator=gen) * 2 - 1
    half = torch.tensor([0.002, 0.004, 0.006])
    u = torch.rand(400, 300, 3, generator=gen) * 2 - 1
    corners = grid.cube_offsets(2, 1, torch.device("cpu")).to(torch.float32) * 2 - 1
    pts = x[:, None, :] + torch.cat([u, corners[None].expand(400, -1, -1)], 1) * half
    params = {"amplitude": amplitude, "frequency": frequency}
    low = D.sawtooth_lower(x, half.clone(), **params)
    values = D.sawtooth(pts.reshape(-1, 3), **params).view(400, -1)
    assert bool((low <= values.min(1).values + 1e-6).all())
    drops = torch.floor(0.5 + frequency * (x - half)) != torch.floor(0.5 + frequency * (x + half))
    calm = ~drops.any(1)  # no drop in the box: the least value is at a corner
    corner_min = D.sawtooth(pts[:, -8:].reshape(-1, 3), **params).view(400, 8).min(1).values
    assert float(calm.float().mean()) > 0.2
    assert torch.allclose(low[calm], corner_min[calm], atol=1e-3 * abs(amplitude))
