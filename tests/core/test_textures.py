"""Displacement and mapper formulas (METHOD.md §3-4): known values, bounds, registries."""

from __future__ import annotations

import math

import pytest
import torch

from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M

PAPER_DISPLACEMENTS = {
    "perlin_more_fine": ("sine_lattice", 0.03, 50),
    "perlin_fine": ("sine_lattice", 0.01, 30),
    "turbulence": ("turbulence", 0.05, 30),
    "ridge": ("ridge", 0.03, 30),
    "ridge_coarse": ("ridge", 0.05, 10),
    "sharpmax": ("sharp_max", 0.05, 20),
    "sharpmax_fine": ("sharp_max", 0.03, 40),
    "twisted_x": ("axis_stripes", 0.04, 20),
    "sawtooth": ("sawtooth", 0.03, 15),
}


def test_paper_displacements_match_the_table() -> None:
    assert list(PAPER_DISPLACEMENTS) == D.PAPER_DISPLACEMENTS
    for name, (family, amp, freq) in PAPER_DISPLACEMENTS.items():
        inst = D.DISPLACEMENTS.get(name)
        assert inst.family == family
        assert inst.resolved()["amplitude"] == amp and inst.resolved()["frequency"] == freq


def test_displacement_known_values() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [math.pi / 60, math.pi / 60, math.pi / 100]])
    sine = D.DISPLACEMENTS.get("perlin_more_fine")(x)  # A (sin sx sin sy + sin sz), s = 50
    expected = 0.03 * (math.sin(50 * math.pi / 60) ** 2 + math.sin(50 * math.pi / 100))
    assert sine.tolist() == pytest.approx([0.0, expected], abs=1e-6)
    ridge = D.DISPLACEMENTS.get("ridge")(torch.tensor([[math.pi / 60, 0.0, math.pi / 60]]))
    assert ridge.item() == pytest.approx(0.03 * 2.0, abs=1e-6)
    saw = D.DISPLACEMENTS.get("sawtooth")(torch.tensor([[0.2 / 15, 0.0, 0.0]]))
    assert saw.item() == pytest.approx(0.03 * (2 / math.pi) * 0.2, abs=1e-6)
    twist = D.DISPLACEMENTS.get("twisted_x")(torch.tensor([[0.0, 1.0, 1.0]]))
    assert twist.item() == 0.0  # only x matters


@pytest.mark.parametrize("name", D.DISPLACEMENTS.names)
def test_displacements_stay_in_their_bounds(name: str) -> None:
    inst = D.DISPLACEMENTS.get(name)
    x = torch.rand(20000, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    v = inst(x)
    assert v.min() >= -inst.outward() - 1e-6
    assert v.max() <= inst.inward() + 1e-6


@pytest.mark.parametrize(
    "params", [{}, {"amplitude": -0.07, "frequency": 12.0}, {"frequency": -45.0}]
)
def test_displacement_lipschitz_constants_bound_the_slope(params: dict[str, float]) -> None:
    """Culling bounds Δ over a block by its value at the centre and ``lipschitz()``: no
    pair of points (random, and 1e-3 apart) and no gradient may exceed it; the largest
    gradient found comes close to it (the constants are not loose)."""
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(200_000, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2).requires_grad_()
    step = torch.randn(200_000, 3, generator=gen, dtype=torch.float64) * 1e-3
    checked = 0
    for name, fam in D.FAMILIES.items():
        if fam.lipschitz is None:
            continue
        inst = D.Displacement("d", name, {**fam.defaults, **params})
        lip = inst.lipschitz()
        v = inst(x)
        (grad,) = torch.autograd.grad(v.sum(), x)
        top = float(grad.norm(dim=1).max())
        with torch.no_grad():
            pair = (inst(x + step) - v).abs() / step.norm(dim=1)
        assert top <= lip * (1 + 1e-9) and float(pair.max()) <= lip * (1 + 1e-6), name
        assert top >= 0.5 * lip, (name, top, lip)
        checked += 1
    assert checked == 5  # sine_lattice, turbulence, ridge, sharp_max, axis_stripes


@pytest.mark.parametrize("family", ["ridge", "sharp_max", "axis_stripes", "turbulence"])
def test_negative_amplitudes_swap_the_bounds(family: str) -> None:
    """A one-sided family with a negative amplitude moves the surface outwards (culling
    reads ``outward()``: it once read -low |A| = 0 for these and dropped voxels)."""
    inst = D.Displacement("neg", family, {"amplitude": -0.05})
    v = inst(torch.rand(20000, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    fam = D.FAMILIES.get(family)
    assert inst.range() == (-0.05 * fam.high, -0.05 * fam.low)
    assert -inst.outward() - 1e-6 <= v.min() < -0.5 * inst.outward()
    assert v.max() <= inst.inward() + 1e-6


def test_gradient_noise_bound_holds_at_perlin_maxima() -> None:
    """Gradient ascent finds |perlin3| above 1; the declared bound (culling) still holds."""
    x = torch.rand(1_000_000, 3, generator=torch.Generator().manual_seed(0)) * 64
    p = x[D.perlin3(x).abs().topk(2000).indices].clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=1e-3)
    for _ in range(300):
        opt.zero_grad()
        (-D.perlin3(p).abs().sum()).backward()
        opt.step()
    peak = float(D.perlin3(p.detach()).abs().max())
    inst = D.Displacement("n", "gradient_noise", {"amplitude": 1.0, "octaves": 1})
    assert 1.0 < peak <= inst.outward() and peak <= inst.inward()


def test_perlin_is_zero_on_lattice_and_smooth() -> None:
    lattice = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-4.0, 5.0, 7.0]])
    assert D.perlin3(lattice).abs().max() < 1e-6
    x = torch.rand(5000, 3, generator=torch.Generator().manual_seed(3)) * 8
    v = D.perlin3(x)
    assert v.abs().max() <= 1.0 and v.std() > 0.1
    v2 = D.perlin3(x + 1e-3)
    assert (v - v2).abs().max() < 0.02
    assert not torch.equal(D.perlin3(x, seed=1), v)


def test_custom_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="no parameter 'amplitud'"):
        D.check_params("ridge", {"amplitud": 0.1})
    with pytest.raises(ValueError, match="allowed: base, peak"):
        M.check_params("exponential", {"slope": 1})


@pytest.mark.parametrize(
    ("name", "d", "expected"),
    [
        ("inverse_cube", [0.0, -1.0, 1.0, -2.0], [128.0, 64.0, 64.0, 128.0 / 9.0]),
        ("exponential_base_2.0", [0.0, -1.0, -3.0, 0.5], [128.0, 64.0, 16.0, 0.0]),
        ("exponential_base_1.5", [-2.0], [128.0 / 2.25]),
        ("linear_slope_10.0", [0.0, -5.0, -20.0, 1.0], [128.0, 78.0, 0.0, 0.0]),
        ("floor_width_1.0", [-0.5, -1.0, -1.5, -13.0], [128.0, 118.0, 118.0, 0.0]),
        ("floor_width_0.5", [-0.25, -0.75], [128.0, 118.0]),
        ("modular_5", [-0.5, -1.5, -2.5, -4.5, -5.5], [128.0, 96.0, 64.0, 0.0, 128.0]),
        ("modular_10", [-0.25, -0.75], [128.0, 8 * 128.0 / 9.0]),
        ("sinusoidal_wavelength_1.0", [0.0, -0.5, -1.0, 0.5], [128.0, 0.0, 128.0, 0.0]),
        ("sinusoidal_wavelength_3.0", [-0.75], [64.0]),
        ("flat_128", [-3.0, 3.0], [128.0, 0.0]),
    ],
)
def test_mapper_known_values(name: str, d: list[float], expected: list[float]) -> None:
    out = M.MAPPERS.get(name)(torch.tensor(d))
    assert out.tolist() == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("name", M.PAPER_MAPPERS)
def test_mappers_zero_outside_except_inverse_cube(name: str) -> None:
    mapper = M.MAPPERS.get(name)
    outside = mapper(torch.linspace(0.01, 30.0, 200))
    inside = mapper(torch.linspace(-30.0, 0.0, 200))
    assert inside.min() >= 0 and inside.max() <= 128.0 + 1e-4
    if name == "inverse_cube":
        assert outside[0] > 100 and outside[-1] == 0.0 and mapper.halo() > 5
    else:
        assert outside.abs().max() == 0.0 and mapper.halo() == 0.0


def test_axis_symmetric_families_are_what_their_metadata_says() -> None:
    """``axis_symmetric`` (the engine then skips the reordered copy of the points) holds
    exactly for the families whose Δ is unchanged when the axes are reordered."""
    from fdif_core.engine.textures.displacements import FAMILIES

    x = torch.rand(500, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for name, fam in FAMILIES.items():
        if fam.check is not None:  # formula families: their axes are the formula's
            continue
        a, b = fam.fn(x, **fam.defaults), fam.fn(x.flip(-1), **fam.defaults)
        same = torch.allclose(a, b, atol=1e-6)
        assert same == fam.axis_symmetric, name
