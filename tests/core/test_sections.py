"""Known values and sign of the 2D sections."""

from __future__ import annotations

import math

import pytest
import torch

from fdif_core.engine.sdf import sections

SQUARE = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]


def pts(*xy: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(xy, dtype=torch.float32)


def test_circle_known_values() -> None:
    d = sections.circle(pts((0, 0), (3, 4), (2, 0)), 2.0)
    assert d.tolist() == pytest.approx([-2.0, 3.0, 0.0])


@pytest.mark.parametrize("order", [1, -1])
def test_polygon_square_exact_either_winding(order: int) -> None:
    verts = SQUARE[::order]
    q = pts((0, 0), (0.5, 0), (3, 0), (2, 2), (1, 1), (0, -0.25))
    expected = [-1.0, -0.5, 2.0, math.sqrt(2.0), 0.0, -0.75]
    assert sections.polygon(q, verts).tolist() == pytest.approx(expected, abs=1e-6)


def test_polygon_concave_sign_uses_crossings() -> None:
    # an L shape: the notch at (0.5, 0.5) is outside although it is inside the bounding box
    ell = [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]
    d = sections.polygon(pts((1.5, 1.5), (0.5, 0.5), (1.5, 0.5)), ell)
    assert d[0] > 0 and d[1] < 0 and d[2] < 0
    assert float(d[0]) == pytest.approx(0.5, abs=1e-6)  # to the inner edge y = 1


@pytest.mark.parametrize("n", [3, 5, 8])
def test_star_tips_inner_vertices_and_centre(n: int) -> None:
    r, w = 10.0, 0.4
    tip = (r * math.cos(2 * math.pi / n), r * math.sin(2 * math.pi / n))
    inner_angle = math.pi / n
    inner = (w * r * math.cos(inner_angle), w * r * math.sin(inner_angle))
    beyond = (2 * r, 0.0)
    d = sections.star(pts(tip, inner, (0, 0), beyond), n, r, w)
    assert d[0].item() == pytest.approx(0.0, abs=1e-4)
    assert d[1].item() == pytest.approx(0.0, abs=1e-4)
    assert d[2].item() < 0
    assert d[3].item() == pytest.approx(r, abs=1e-4)


def test_star_matches_its_polygon() -> None:
    """The closed-form star equals the exact polygon SDF of its 2n vertices."""
    n, r, w = 5, 8.0, 0.5
    verts = []
    for k in range(2 * n):
        rad = r if k % 2 == 0 else w * r
        a = k * math.pi / n
        verts.append([rad * math.cos(a), rad * math.sin(a)])
    q = (torch.rand(2000, 2, generator=torch.Generator().manual_seed(0)) - 0.5) * 30
    assert torch.allclose(sections.star(q, n, r, w), sections.polygon(q, verts), atol=1e-4)


def test_ellipse_zero_set_and_bound() -> None:
    q = pts((4, 0), (0, 2), (0, 0), (8, 0))
    d = sections.ellipse(q, (4.0, 2.0))
    assert d[0].item() == pytest.approx(0.0) and d[1].item() == pytest.approx(0.0)
    assert d[2] < 0
    assert 0 < d[3].item() <= 4.0  # a bound never exceeds the true distance (4)


def test_in_place_sections_equal_the_plain_formulas_bit_for_bit() -> None:
    """The inference paths (in place) and the differentiable ones agree on every bit,
    including points on vertices, on edges' lines and at the origin."""
    from fdif_core.engine.sdf.sections import _polygon_plain, _star_plain

    gen = torch.Generator().manual_seed(3)
    for trial in range(40):
        q = torch.randn(3000, 2, generator=gen) * 20
        verts = torch.randn(3 + trial % 7, 2, generator=gen) * 8
        verts[0] = verts[0].round()
        q[:20], q[20:40, 1], q[40:60] = 0.0, verts[0, 1], verts[0]
        q[60:200] = q[60:200].round()
        vl = verts.tolist()
        fast, plain = sections.polygon(q, vl), _polygon_plain(q, vl)
        assert torch.equal(fast, plain) and fast.lt(0).any() and fast.gt(0).any()
        # the small-batch path (all edges at once) and the loop over edges: the same bits
        assert torch.equal(sections._polygon_edges(q, vl), plain)
        big = q.repeat(sections.SMALL_BATCH // len(q) + 1, 1)  # beyond SMALL_BATCH: the loop
        assert torch.equal(sections.polygon(big, vl)[: len(q)], plain)
        n, r, ratio = 3 + trial % 4, 1.0 + trial, trial / 40.0
        assert torch.equal(sections.star(q, n, r, ratio), _star_plain(q, n, r, ratio))
    q = (torch.randn(500, 2, generator=gen) * 20).requires_grad_(True)
    sections.polygon(q, vl).sum().backward()  # differentiable where gradients are taken
    assert q.grad is not None and torch.allclose(q.grad.norm(dim=-1), torch.ones(500))
