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
