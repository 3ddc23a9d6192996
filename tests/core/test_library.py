"""Every primitive class: count, names, sign, distance and gradient properties."""

from __future__ import annotations

import math
import re

import pytest
import torch

from fdif_core.engine.sdf.library import (
    FDIF_CLASSES,
    PRIMITIVES,
    evaluate,
    field_slack,
    half_extents,
    sample_params,
)

G = 96.0
GRAMMAR = re.compile(
    r"^(sphere|torus|cone|octahedron|cylinder(_(convex|concave|cone))?|"
    r"(polygon|star)_\d_(prism|torus|revolution)(_(convex|concave|cone))?(_onion)?|"
    r"ellipse_prism(_(convex|concave|cone))?)$"
)


def box_grid(cls, params, n: int = 40) -> torch.Tensor:
    ext = half_extents(cls, params)
    axes = [torch.linspace(-1.2 * e, 1.2 * e, n) for e in ext]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


def is_exact(cls) -> bool:
    return cls.profile == "none" and cls.section != "ellipse"


def test_library_has_109_fdif_classes_by_family() -> None:
    assert len(FDIF_CLASSES) == 109
    fams: dict[str, int] = {}
    for name in FDIF_CLASSES:
        f = PRIMITIVES.get(name).family
        fams[f] = fams.get(f, 0) + 1
    assert fams["basic"] == 8 and fams["star_revolution"] == 3
    assert fams["polygon_prism"] == 7 and fams["polygon_prism_cone_onion"] == 7
    assert fams["star_prism_convex"] == 4 and fams["star_prism_concave_onion"] == 4
    assert fams["polygon_torus"] == 6 and fams["star_torus"] == 4
    onion = [n for n in FDIF_CLASSES if n.endswith("_onion")]
    assert len(onion) == 28 + 16


@pytest.mark.parametrize("name", PRIMITIVES.names)
def test_class_sign_distance_and_gradient(name: str) -> None:
    cls = PRIMITIVES.get(name)
    assert GRAMMAR.match(name), name
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        params = sample_params(cls, gen, G)
        pts = box_grid(cls, params)
        d = evaluate(cls, params, pts)
        assert torch.isfinite(d).all()
        assert (d < 0).sum() > 20, "no interior"
        # the box of half_extents contains the object: positive on its faces' far side
        ext = torch.tensor(half_extents(cls, params))
        far = torch.stack([ext * 1.5, -ext * 1.5, torch.tensor([3 * G, 0, 0])])
        assert (evaluate(cls, params, far) > 0).all()
        # a far point: exact SDFs give the true distance to within the object's size
        if is_exact(cls):
            far_d = evaluate(cls, params, torch.tensor([[10 * G, 0.0, 0.0]]))
            assert 10 * G - float(ext.max()) - 1 <= far_d.item() <= 10 * G + 1e-3
        # gradient norm: <= 1 everywhere (bounds), == 1 almost everywhere (exact)
        sub = pts[torch.randperm(len(pts), generator=gen)[:3000]].clone().requires_grad_(True)
        val = evaluate(cls, params, sub)
        (grad,) = torch.autograd.grad(val.sum(), sub)
        norm = grad.norm(dim=1)
        ok = torch.isfinite(norm)
        assert (norm[ok] <= 1.0 + 1e-3).float().mean() > 0.999, norm.max()
        if is_exact(cls):
            assert ((norm[ok] - 1.0).abs() < 1e-3).float().mean() > 0.95
        assert field_slack(cls, params) >= 1.0


def test_sampling_is_deterministic_and_in_range() -> None:
    cls = PRIMITIVES.get("torus")
    a = sample_params(cls, torch.Generator().manual_seed(5), G)
    b = sample_params(cls, torch.Generator().manual_seed(5), G)
    assert a == b
    for seed in range(50):
        p = sample_params(cls, torch.Generator().manual_seed(seed), G)
        assert 0.15 * G <= p["offset"] <= 0.40 * G
        assert 0.3 * p["offset"] <= p["radius"] <= 0.7 * p["offset"]


def test_range_override() -> None:
    cls = PRIMITIVES.get("sphere")
    p = sample_params(cls, torch.Generator().manual_seed(0), G, {"radius": (0.1, 0.1)})
    assert p["radius"] == pytest.approx(0.1 * G)


def test_onion_is_hollow() -> None:
    cls = PRIMITIVES.get("polygon_6_prism_onion")
    params = sample_params(cls, torch.Generator().manual_seed(2), G)
    solid = PRIMITIVES.get("polygon_6_prism")
    deep = box_grid(solid, params)
    d_solid = evaluate(solid, params, deep)
    d_onion = evaluate(cls, params, deep)
    deepest = d_solid.argmin()
    assert d_solid[deepest] < 0 < d_onion[deepest]
    assert params["thickness"] == pytest.approx(
        params["onion_ratio"] * -d_solid.min().item(), rel=0.1
    )


@pytest.mark.parametrize("reject", [False, True])
def test_polygon_vertices_draw_the_stream_of_single_draws(reject: bool) -> None:
    """2n draws at once per attempt: the vertices of single draws (angle, then radius, per
    vertex), bit for bit, and the generator left where single draws leave it."""
    from fdif_core.engine.sdf.library import MIN_AREA_RATIO, _area, _polygon_vertices

    def single(gen: torch.Generator, n: int, r: tuple[float, float]) -> list[list[float]]:
        for _ in range(16 if reject else 1):
            verts = []
            for i in range(n):
                w = float(torch.rand((), generator=gen, dtype=torch.float64))
                a = 2.0 * math.pi * (i + w) / n
                x = float(torch.rand((), generator=gen, dtype=torch.float64))
                rad = r[0] + (r[1] - r[0]) * x
                verts.append([rad * math.cos(a), rad * math.sin(a)])
            mean_r = sum(math.hypot(x, y) for x, y in verts) / n
            if _area(verts) >= MIN_AREA_RATIO * 0.5 * n * mean_r**2 * math.sin(2.0 * math.pi / n):
                break
        return verts

    for seed in range(40):
        n, r = 3 + seed % 7, (2.0 + seed % 5, 30.0)
        g1, g2 = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        assert _polygon_vertices(g1, n, r, reject) == single(g2, n, r)
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
