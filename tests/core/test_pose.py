"""Pose maps, bounds and sampling."""

from __future__ import annotations

import math

import pytest
import torch

from fdif_core.engine.pose import Pose, PoseRanges, rotation_matrix, sample_pose


def test_rotation_is_orthonormal_rz_ry_rx() -> None:
    r = rotation_matrix((0.3, -1.2, 2.5))
    assert torch.allclose(r @ r.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    rz = rotation_matrix((0.0, 0.0, math.pi / 2))
    assert torch.allclose(
        rz @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
        torch.tensor([0.0, 1, 0], dtype=torch.float64),
        atol=1e-12,
    )


def test_to_object_inverts_forward_map() -> None:
    pose = Pose.build((5.0, -3.0, 2.0), (0.4, 1.0, -2.0), (0.1, -0.05, 0.08))
    obj = torch.randn(100, 3, generator=torch.Generator().manual_seed(0)) * 10
    m = torch.tensor(pose.matrix, dtype=torch.float32)
    world = obj @ m.T + torch.tensor(pose.translation)
    assert torch.allclose(pose.to_object(world), obj, atol=1e-4)


def test_to_object_is_batch_invariant() -> None:
    pose = Pose.build((1.0, 2.0, 3.0), (0.4, 1.0, -2.0), (0.1, 0.0, 0.1))
    x = torch.randn(1000, 3, generator=torch.Generator().manual_seed(1)) * 40
    whole = pose.to_object(x)
    parts = torch.cat([pose.to_object(x[i : i + 7]) for i in range(0, 1000, 7)])
    assert torch.equal(whole, parts)


def test_small_batch_rows_equal_the_column_path_bit_for_bit() -> None:
    """Up to SMALL_BATCH points to_object maps whole rows (cached float32 t and M^-1):
    the same float32 operations as the column path beyond it, and the plain formula."""
    from fdif_core.engine.pose import SMALL_BATCH

    pose = Pose.build((3.1, -7.2, 11.3), (0.3, -1.2, 2.2), (0.05, -0.07, 0.02))
    x = torch.randn(SMALL_BATCH + 1, 3, generator=torch.Generator().manual_seed(2)) * 40
    columns = pose.to_object(x)  # beyond SMALL_BATCH: column by column
    rows = torch.cat([pose.to_object(x[:SMALL_BATCH]), pose.to_object(x[SMALL_BATCH:])])
    assert torch.equal(rows, columns)
    plain = pose.to_object(x[:500].clone().requires_grad_()).detach()  # the plain formula
    assert torch.equal(pose.to_object(x[:500]), plain)
    for k in range(3):
        assert torch.equal(pose.object_axis(x[:500], k), columns[:500, k])
    x64 = x[:100].double()  # the cached rows follow the points' dtype
    assert torch.equal(pose.to_object(x64), pose.to_object(torch.cat([x64] * 90))[:100])


def test_world_box_contains_transformed_box_and_lipschitz_bounds_stretch() -> None:
    pose = Pose.build((0.0, 0.0, 0.0), (0.7, -0.3, 1.9), (0.1, 0.1, -0.1))
    half = (5.0, 2.0, 8.0)
    corners = torch.tensor(
        [
            [sx * half[0], sy * half[1], sz * half[2]]
            for sx in (-1, 1)
            for sy in (-1, 1)
            for sz in (-1, 1)
        ],
        dtype=torch.float64,
    )
    world = corners @ torch.tensor(pose.matrix, dtype=torch.float64).T
    lo, hi = pose.world_box(half)
    assert (world >= torch.tensor(lo) - 1e-9).all() and (world <= torch.tensor(hi) + 1e-9).all()
    assert world.amax(0).tolist() == pytest.approx(hi) and world.amin(0).tolist() == pytest.approx(
        lo
    )
    a, b = torch.randn(2, 500, 3, dtype=torch.float32, generator=torch.Generator().manual_seed(2))
    stretch = (pose.to_object(a) - pose.to_object(b)).norm(dim=1) / (a - b).norm(dim=1)
    assert stretch.max() <= pose.lipschitz + 1e-4


def test_sample_pose_ranges() -> None:
    gen = torch.Generator().manual_seed(0)
    ranges = PoseRanges(translation=(-0.35, 0.35), rotation=(0.0, 0.0), shear=(0.0, 0.0))
    for _ in range(20):
        p = sample_pose(gen, ranges, (96.0, 96.0, 48.0))
        assert torch.allclose(
            torch.tensor(p.matrix, dtype=torch.float64), torch.eye(3, dtype=torch.float64)
        )
        t = p.translation
        assert abs(t[0]) <= 0.35 * 96 and abs(t[2]) <= 0.35 * 48
    assert Pose.identity().lipschitz == pytest.approx(1.0)


def test_sample_pose_draws_the_stream_of_nine_single_draws() -> None:
    """The nine values are drawn at once: the generator's stream of nine single draws
    (translation, angles, shear), and the generator left where single draws leave it."""
    ranges, extent = PoseRanges(), (96.0, 80.0, 64.0)
    for seed in range(5):
        g1, g2 = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        pose = sample_pose(g1, ranges, extent)
        one = [float(torch.rand((), generator=g2, dtype=torch.float64)) for _ in range(9)]
        u = [
            r[0] + (r[1] - r[0]) * x
            for r, x in zip(
                [ranges.translation] * 3 + [ranges.rotation] * 3 + [ranges.shear] * 3,
                one,
                strict=True,
            )
        ]
        t = tuple(a * e for a, e in zip(u[:3], extent, strict=True))
        assert pose == Pose.build(t, tuple(u[3:6]), tuple(u[6:]))
        assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
