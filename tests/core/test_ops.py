"""Known values of the 3D constructions."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from fdif_core.engine.sdf import ops, sections


def p3(*xyz: tuple[float, float, float]) -> torch.Tensor:
    return torch.tensor(xyz, dtype=torch.float32)


def test_extrude_is_exact_box() -> None:
    square = [[-2.0, -2.0], [2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]]
    p = p3((0, 0, 0), (0, 0, 5), (4, 0, 3), (0, 0, 2.5), (1, 0, 0))
    d = ops.extrude(sections.polygon(p[:, :2], square), p[:, 2], 3.0)
    assert d.tolist() == pytest.approx([-2.0, 2.0, 2.0, -0.5, -1.0], abs=1e-6)


def test_revolve_circle_is_torus() -> None:
    circle = partial(sections.circle, radius=2.0)
    p = p3((10, 0, 0), (0, 10, 0), (12, 0, 0), (0, 0, 0), (10, 0, 5))
    d = ops.revolve(circle, p, 10.0)
    assert d.tolist() == pytest.approx([-2.0, -2.0, 0.0, 8.0, 3.0], abs=1e-5)


def test_revolve_offset_zero_circle_is_sphere() -> None:
    d = ops.revolve(partial(sections.circle, radius=3.0), p3((0, 0, 0), (3, 4, 0), (0, 0, 7)), 0.0)
    assert d.tolist() == pytest.approx([-3.0, 2.0, 4.0], abs=1e-5)


def test_onion_shell() -> None:
    d = torch.tensor([-5.0, -1.0, 0.0, 2.0])
    assert ops.onion(d, 1.0).tolist() == [4.0, 0.0, -1.0, 1.0]


def test_octahedron_known_values() -> None:
    s = 3.0
    p = p3((0, 0, 0), (s, 0, 0), (2 * s, 0, 0), (0, 0, -s), (1, 1, 1), (s, s, 0))
    d = ops.octahedron(p, s)
    expected = [-s / math.sqrt(3), 0.0, s, 0.0, 0.0, s / math.sqrt(2)]
    assert d.tolist() == pytest.approx(expected, abs=1e-5)


def test_profile_scale_and_lipschitz() -> None:
    z = torch.tensor([-5.0, 1.0, 5.0, 9.0])
    s = ops.profile_scale(z, (1.0, 3.0, 1.0), 1.0, 5.0)
    assert s.tolist() == pytest.approx([1.0, 3.0, 1.0, 1.0])
    # slope 2/6 below the neck, 2/4 above; extent 4 -> sqrt(1 + 2^2)
    assert ops.profile_lipschitz((1.0, 3.0, 1.0), 1.0, 5.0, 4.0) == pytest.approx(math.sqrt(5.0))


@pytest.mark.parametrize("clamp", [True, False])
def test_profile_scale_float_equals_the_float64_tensor_path(clamp: bool) -> None:
    """Object boxes take s(z) at 3 points in Python floats: bit for bit the float64
    tensor path (the exact geometry's onion depth grid depends on those boxes)."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        k0, k1, k2, u, h = (float(v) for v in torch.rand(5, generator=gen, dtype=torch.float64))
        knots, h = (0.2 + 3 * k0, 0.2 + 3 * k1, 1.6 * k2), 2.0 + 30.0 * h
        neck = (2.0 * u - 1.0) * 1.6 * h  # beyond the ends too
        z = [*torch.linspace(-2.0 * h, 2.0 * h, 41, dtype=torch.float64).tolist(), neck, -h, h]
        ref = ops.profile_scale(torch.tensor(z, dtype=torch.float64), knots, neck, h, clamp)
        assert [ops.profile_scale_float(v, knots, neck, h, clamp) for v in z] == ref.tolist()
