"""The two geometries (authors' / exact): constructions, known field values, ranges, bounds."""

from __future__ import annotations

import math

import pytest
import torch

from fdif_core.engine.grid import lattice_minimum
from fdif_core.engine.sdf import sections
from fdif_core.engine.sdf.geometry import (
    OCTAHEDRON_SCALE,
    authors_section,
    evaluate,
    field_lipschitz,
    reach_extents,
)
from fdif_core.engine.sdf.library import (
    FDIF_CLASSES,
    PRIMITIVES,
    authors_lattice,
    authors_thickness,
    sample_params,
)

G = 96.0


def at(cls: str, params: dict, *pts: tuple[float, float, float]) -> list[float]:
    return evaluate(PRIMITIVES.get(cls), params, torch.tensor(pts, dtype=torch.float32)).tolist()


def star_vertices(n: int, r: float, ratio: float) -> list[list[float]]:
    """The star as a polygon, one tip along +y (the orientation of the classic sdStar)."""
    out = []
    for k in range(2 * n):
        rad = r if k % 2 == 0 else ratio * r
        a = math.pi / 2 + k * math.pi / n
        out.append([rad * math.cos(a), rad * math.sin(a)])
    return out


def both(p: dict) -> tuple[dict, dict]:
    return {**p, "geometry": "authors"}, {**p, "geometry": "exact"}


# --------------------------------------------------------------------------- known values
def test_basic_solids_known_values_in_both_geometries() -> None:
    for p in both({"radius": 10.0}):
        assert at("sphere", p, (3, 4, 0))[0] == pytest.approx(-5.0, abs=1e-5)
    for p in both({"offset": 10.0, "radius": 3.0}):
        assert at("torus", p, (10, 0, 1), (0, 13, 0)) == pytest.approx([-2.0, 0.0], abs=1e-5)
    for p in both({"radius": 10.0, "height": 20.0}):  # base radius 10 at z = -10, apex at +10
        assert at("cone", p, (0, 0, -5), (0, 0, 11)) == pytest.approx([-5.0, 1.0], abs=1e-5)
    authors, exact = both({"size": 10.0})
    assert at("octahedron", authors, (1, 2, 3))[0] == pytest.approx(OCTAHEDRON_SCALE * -4.0)
    assert at("octahedron", exact, (1, 2, 3))[0] == pytest.approx(-4.0 / math.sqrt(3.0), abs=1e-5)


@pytest.mark.parametrize(
    ("cls", "knots", "point", "scale", "slope"),
    [
        ("cylinder_convex", [1.0, 3.0, 1.0], (6.0, 0.0, 0.0), 3.0, 0.2),
        ("cylinder_concave", [1.0, 0.5, 1.0], (3.0, 0.0, 0.0), 0.5, 0.05),
        ("cylinder_cone", [1.0, 0.75, 0.5], (0.0, 0.0, 0.0), 0.75, 0.025),
    ],
)
def test_profiled_cylinders_unscaled_vs_lipschitz_bounded(cls, knots, point, scale, slope) -> None:
    r, h = 5.0, 10.0
    lip = math.sqrt(1.0 + (slope * r) ** 2)
    base = {"radius": r, "half_height": h, "knots": knots, "neck": 0.0, "lipschitz": lip}
    authors, exact = both(base)
    section = scale * (math.hypot(point[0], point[1]) / scale - r)  # s d(q / s)
    assert at(cls, authors, point)[0] == pytest.approx(section, abs=1e-4)
    assert at(cls, exact, point)[0] == pytest.approx(section / lip, abs=1e-4)


def test_authors_profile_extends_beyond_the_ends() -> None:
    """Unclamped, the waist's scale keeps growing past the ends (exact: held at 1)."""
    base = {"radius": 5.0, "half_height": 10.0, "knots": [1.0, 0.5, 1.0], "neck": 0.0}
    pts = torch.tensor([[0.0, 0.0, 30.0]])
    cls = PRIMITIVES.get("cylinder_concave")
    s = authors_section(cls, {**base, "geometry": "authors"}, pts)
    assert s.item() == pytest.approx((0.5 + 0.5 * 30.0 / 10.0) * -5.0, abs=1e-4)  # s(30) = 2


def test_polygon_and_star_prisms_and_tori_known_values() -> None:
    square = [[-2.0, -2.0], [2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]]
    for p in both({"vertices": square, "half_height": 5.0}):
        assert at("polygon_4_prism", p, (0, 0, 0), (0, 0, 6), (3, 0, 0)) == pytest.approx(
            [-2.0, 1.0, 1.0], abs=1e-5
        )
    for p in both({"vertices": square, "offset": 10.0}):
        assert at("polygon_4_torus", p, (10, 0, 0), (0, 13, 0), (0, 0, 0)) == pytest.approx(
            [-2.0, 1.0, 8.0], abs=1e-5
        )
    ratio = sections.star_inner_ratio(5, 0.5)
    star = star_vertices(5, 20.0, ratio)
    q = torch.tensor([[0.0, 0.0], [0.0, 19.0], [3.0, -4.0]])
    want = sections.polygon(q, star)  # the star as an exact polygon, tip along +y
    for p in both({"radius": 20.0, "star_ratio": ratio, "half_height": 30.0}):
        got = at("star_5_prism", p, *[(float(x), float(y), 0.0) for x, y in q.tolist()])
        assert got == pytest.approx(want.tolist(), abs=1e-4)
    for p in both({"radius": 4.0, "star_ratio": sections.star_inner_ratio(6, 0.3), "offset": 12.0}):
        tip_along_axis = at("star_6_torus", p, (12.0, 0.0, 4.0), (12.0, 0.0, 4.5))
        assert tip_along_axis == pytest.approx([0.0, 0.5], abs=1e-4)


def test_star_revolution_mirror_only_in_exact() -> None:
    """Authors: d(rho - offset, z) alone; exact: united with the mirror image across the axis."""
    n, r, off = 3, 10.0, 5.0
    ratio = sections.star_inner_ratio(n, 0.3)
    authors, exact = both({"radius": r, "star_ratio": ratio, "offset": off})
    star = star_vertices(n, r, ratio)
    pts = [(3.0, 0.0, -6.0), (1.0, 0.0, 3.0), (20.0, 0.0, 0.0)]
    near = sections.polygon(torch.tensor([[x - off, z] for x, _, z in pts]), star)
    far = sections.polygon(torch.tensor([[-x - off, z] for x, _, z in pts]), star)
    assert at("star_3_revolution", authors, *pts) == pytest.approx(near.tolist(), abs=1e-4)
    assert at("star_3_revolution", exact, *pts) == pytest.approx(
        torch.minimum(near, far).tolist(), abs=1e-4
    )
    assert not torch.allclose(near, torch.minimum(near, far))  # the points tell them apart


def test_authors_onions_are_open_tubes_exact_onions_closed_shells() -> None:
    ratio = sections.star_inner_ratio(5, 0.5)
    base = {"radius": 20.0, "star_ratio": ratio, "half_height": 10.0, "thickness": 2.0}
    authors, exact = both(base)
    axis = [(0.0, 0.0, z) for z in (-9.5, -5.0, 0.0, 5.0, 9.5)]
    assert min(at("star_5_prism_onion", authors, *axis)) > 0  # hollow through both ends
    ends = at("star_5_prism_onion", exact, (0, 0, -9.0), (0, 0, 0), (0, 0, 9.0))
    assert ends[0] < 0 < ends[1] and ends[2] < 0  # caps at both ends, hollow between
    a = math.pi / 2 + math.pi / 5  # an inner vertex: on the section boundary, in the wall
    wall = (20.0 * ratio * math.cos(a), 20.0 * ratio * math.sin(a), 0.0)
    assert at("star_5_prism_onion", authors, wall)[0] == pytest.approx(-2.0, abs=1e-4)


# --------------------------------------------------------------------------- authors' onion
def test_authors_onion_thickness_uses_the_unclamped_profile_over_the_whole_grid() -> None:
    square = [[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]]
    p = {
        "geometry": "authors",
        "vertices": square,
        "half_height": 10.0,
        "knots": [1.0, 0.5, 1.0],
        "neck": 0.0,
        "onion_ratio": 0.5,
    }
    cls = PRIMITIVES.get("polygon_4_prism_concave_onion")
    # s(-48) = 1 + 0.05 * 38 = 2.9 at the grid's first plane: min = -29, t = 0.5 * 29
    t = authors_thickness(cls, p, None, authors_lattice(96))
    assert t == pytest.approx(14.5, abs=1e-4)


@pytest.mark.parametrize("block", [8, 16, 4, 6])
def test_lattice_minimum_equals_brute_force(block: int) -> None:
    """Exact whatever the first pass's block (halved down to single points: 16, 8, 4, 2, 1;
    6, 3, 1)."""
    cls = PRIMITIVES.get("star_7_prism_cone_onion")
    p = sample_params(cls, torch.Generator().manual_seed(3), 32.0, geometry="authors")
    rot = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))[0]

    def fn(x: torch.Tensor) -> torch.Tensor:
        return authors_section(cls, p, (x - 2.5) @ rot.T)

    axes = authors_lattice(32)
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    lip = math.sqrt(1.0 + 40.0**2)  # generous: exactness only needs a true upper bound
    assert lattice_minimum(fn, lip, axes, block) == float(fn(grid).min())


# --------------------------------------------------------------------------- ranges
def test_prism_full_height_is_drawn_in_range_then_halved() -> None:
    prisms = [n for n in FDIF_CLASSES if PRIMITIVES.get(n).construction == "prism"]
    heights = []
    for i, name in enumerate(prisms * 3):
        for geometry in ("authors", "exact"):
            cls = PRIMITIVES.get(name)
            p = sample_params(cls, torch.Generator().manual_seed(i), G, geometry=geometry)
            full = 2.0 * p["half_height"] / G
            assert 0.10 <= full <= 0.50
            heights.append(full)
            if "neck" in p and cls.profile != "cone":
                assert abs(p["neck"]) <= 0.7 * 2.0 * p["half_height"] + 1e-9
    assert sum(heights) / len(heights) == pytest.approx(0.30, abs=0.02)  # U(0.10, 0.50)


@pytest.mark.parametrize(("n", "w"), [(3, 0.1), (3, 0.7), (5, 0.2), (5, 0.45), (8, 0.7)])
def test_star_tip_angle_follows_the_w_mapping(n: int, w: float) -> None:
    """The classic star's tip half-angle is pi/m - pi/n with m = n + w (2 - n): measured on the
    field just inside a tip (distance to the two edges = delta sin(theta))."""
    r, delta = 10.0, 0.05
    ratio = sections.star_inner_ratio(n, w)
    d = sections.star(torch.tensor([[r - delta, 0.0]]), n, r, ratio).item()
    m = n + w * (2.0 - n)
    assert math.asin(-d / delta) == pytest.approx(math.pi / m - math.pi / n, abs=2e-3)


def test_sampled_ranges_of_tori_revolutions_and_stars() -> None:
    for i in range(40):
        gen = torch.Generator().manual_seed(i)
        p = sample_params(PRIMITIVES.get("polygon_7_torus"), gen, G, geometry="authors")
        radii = [math.hypot(x, y) for x, y in p["vertices"]]
        minor = max(radii)
        assert min(radii) >= 0.03 * G - 1e-6 and minor <= 0.8 * p["offset"]
        p = sample_params(PRIMITIVES.get("star_4_revolution"), gen, G, geometry="authors")
        assert 0.15 * G <= p["radius"] <= 0.40 * G and 0 <= p["offset"] <= 0.5 * p["radius"]
        assert 0.1 <= p["star_w"] <= 0.7
        assert p["star_ratio"] == sections.star_inner_ratio(4, p["star_w"])
        p = sample_params(PRIMITIVES.get("star_8_torus"), gen, G, geometry="authors")
        assert 0.4 * p["offset"] <= p["radius"] <= 0.8 * p["offset"]
        p = sample_params(PRIMITIVES.get("polygon_5_prism"), gen, G, geometry="authors")
        assert all(0.15 * G <= math.hypot(x, y) <= 0.40 * G for x, y in p["vertices"])


# --------------------------------------------------------------------------- culling bounds
@pytest.mark.parametrize("name", FDIF_CLASSES[::3])
def test_authors_fields_respect_their_lipschitz_constant_and_reach_box(name: str) -> None:
    cls = PRIMITIVES.get(name)
    for seed in range(2):
        gen = torch.Generator().manual_seed(seed)
        p = sample_params(cls, gen, G, geometry="authors")
        reach = 11.0
        ext = torch.tensor(reach_extents(cls, p, reach))
        pts = (torch.rand(4000, 3, generator=gen) * 2.0 - 1.0) * ext * 1.3
        pts.requires_grad_(True)
        d = evaluate(cls, p, pts)
        (grad,) = torch.autograd.grad(d.sum(), pts)
        norm = grad.norm(dim=1)
        assert norm[torch.isfinite(norm)].max() <= field_lipschitz(cls, p) * (1 + 1e-3)
        outside = (pts.detach().abs() > ext).any(dim=1)
        assert (d.detach()[outside] > reach).all()


PROFILED = [n for n in FDIF_CLASSES if PRIMITIVES.get(n).profile != "none" and "prism" in n]


@pytest.mark.parametrize("name", PROFILED[::3])
def test_block_bounds_hold_inside_each_block(name: str) -> None:
    """block_bounds' low <= F <= high at points within rho across and z_reach along the axis
    of each block centre (the steep authors' profiles whose Lipschitz bounds are poor)."""
    from fdif_core.engine.sdf.geometry import block_bounds

    cls = PRIMITIVES.get(name)
    gen = torch.Generator().manual_seed(5)
    checked = 0
    for _ in range(6):
        p = sample_params(cls, gen, G, geometry="authors")
        centres = (torch.rand(400, 3, generator=gen) - 0.5) * 90.0
        rho, z_reach = 2.0, 1.5
        bounds = block_bounds(cls, p, centres, rho, z_reach)
        if bounds is None:  # a 3-gon not star-shaped about its centre
            continue
        low, high = bounds
        alone = block_bounds(cls, p, centres, rho, z_reach, upper=False)
        assert alone is not None and torch.equal(alone[0], low)  # the lower bounds alone
        assert (alone[1] is None) != cls.onion  # an onion's lower bound needs the upper
        for _ in range(8):
            d = torch.randn(400, 3, generator=gen)
            d[:, :2] *= rho * torch.rand(400, 1, generator=gen) / d[:, :2].norm(dim=1, keepdim=True)
            d[:, 2] = z_reach * (2.0 * torch.rand(400, generator=gen) - 1.0)
            f = evaluate(cls, p, centres + d)
            assert bool((low <= f).all()) and bool((f <= high).all())
        checked += 1
    assert checked > 0
