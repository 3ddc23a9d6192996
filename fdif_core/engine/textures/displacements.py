"""Displacement Δ (geometric texture), docs/method.md: φ̃ = φ(x') + Δ.

Families are functions of x̂ = coordinate / (G/2) returning Δ in units of the half-grid;
the engine multiplies by G/2 to get voxels. Instances (``DISPLACEMENTS``) are a family plus
parameters; presets and the studio can define more.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..params import TEXTURE_PARAMS, Param
from ..registry import Registry
from ..types import Field, Points
from . import expression, formula_functions
from .instances import Instance


@dataclass(frozen=True)
class DisplacementFamily:
    """A displacement formula, its default parameters and bounds on Δ (units of A)."""

    name: str
    fn: Callable[..., Field]
    defaults: dict[str, float]
    low: float  # min Δ / A  (negative: the surface moves outwards)
    high: float  # max Δ / A
    doc: str
    bounds: Callable[..., tuple[float, float]] | None = None  # (min Δ, max Δ) from params
    check: Callable[[dict], None] | None = None  # validates params (formula families)
    axis_symmetric: bool = False  # Δ unchanged when the axes are reordered
    lipschitz: Callable[..., float] | None = None  # bound on |grad Δ| (x̂ units), from params
    lower: Callable[..., Field] | None = None  # (x̂, half-widths, params) -> min Δ over boxes

    @property
    def params(self) -> dict[str, Param]:
        """Domain, unit and editing window of each parameter (a formula's are its own)."""
        return {k: TEXTURE_PARAMS.get(k) for k in self.defaults}


FAMILIES: Registry[DisplacementFamily] = Registry("displacement family")


def _family(
    name: str,
    defaults: dict[str, float],
    low: float,
    high: float,
    axis_symmetric: bool = False,
    lipschitz: Callable[..., float] | None = None,
    lower: Callable[..., Field] | None = None,
):
    def deco(fn: Callable[..., Field]) -> Callable[..., Field]:
        doc = (fn.__doc__ or "").strip()
        fam = DisplacementFamily(
            name,
            fn,
            defaults,
            low,
            high,
            doc,
            axis_symmetric=axis_symmetric,
            lipschitz=lipschitz,
            lower=lower,
        )
        FAMILIES.add(name, fam)
        return fn

    return deco


def _af(factor: float) -> Callable[..., float]:
    """A Lipschitz bound ``factor |A f|`` (amplitude A, frequency f)."""

    def bound(amplitude: float, frequency: float, **_: float) -> float:
        return factor * abs(amplitude * frequency)

    return bound


# |grad| of turbulence / (A f): its three sin.cos terms move x̂ by at most 0.1 + 0.35, ŷ by
# 0.15 + 0.2 and ẑ by 0.25 + 0.3 per unit of X = f x̂
_TURBULENCE_SLOPE = math.sqrt(0.45**2 + 0.35**2 + 0.55**2)


@_family(
    "sine_lattice", {"amplitude": 0.03, "frequency": 50.0}, -2.0, 2.0, lipschitz=_af(math.sqrt(2.0))
)
def sine_lattice(x: Points, amplitude: float, frequency: float) -> Field:
    """A·(sin(s x̂)·sin(s ŷ) + sin(s ẑ)), the paper's "perlin" sine approximation."""
    s = torch.sin(frequency * x)
    return amplitude * (s[:, 0] * s[:, 1] + s[:, 2])


@_family(
    "turbulence",
    {"amplitude": 0.05, "frequency": 30.0},
    -3.0,
    3.0,
    lipschitz=_af(_TURBULENCE_SLOPE),
)
def turbulence(x: Points, amplitude: float, frequency: float) -> Field:
    """A·(sin(.1X)cos(.15Y) + sin(.2Y)cos(.25Z) + sin(.3Z)cos(.35X)), X = s x̂."""
    X, Y, Z = (frequency * x).unbind(-1)
    return amplitude * (
        torch.sin(0.1 * X) * torch.cos(0.15 * Y)
        + torch.sin(0.2 * Y) * torch.cos(0.25 * Z)
        + torch.sin(0.3 * Z) * torch.cos(0.35 * X)
    )


@_family(
    "ridge",
    {"amplitude": 0.03, "frequency": 30.0},
    0.0,
    3.0,
    axis_symmetric=True,
    lipschitz=_af(math.sqrt(3.0)),
)
def ridge(x: Points, amplitude: float, frequency: float) -> Field:
    """A·(|sin f x̂| + |sin f ŷ| + |sin f ẑ|)."""
    return amplitude * torch.sin(frequency * x).abs().sum(-1)


@_family(
    "sharp_max",
    {"amplitude": 0.05, "frequency": 20.0},
    0.0,
    1.0,
    axis_symmetric=True,
    lipschitz=_af(1.0),
)
def sharp_max(x: Points, amplitude: float, frequency: float) -> Field:
    """A·max(|sin f x̂|, |sin f ŷ|, |sin f ẑ|)."""
    return amplitude * torch.sin(frequency * x).abs().amax(-1)


@_family(
    "axis_stripes", {"amplitude": 0.04, "frequency": 20.0, "axis": 0}, 0.0, 1.0, lipschitz=_af(1.0)
)
def axis_stripes(x: Points, amplitude: float, frequency: float, axis: float = 0) -> Field:
    """A·|sin f x̂_axis| (axis 0, 1 or 2; the paper's ``twisted_x`` uses x)."""
    return amplitude * torch.sin(frequency * x[:, int(axis)]).abs()


SAW_SLACK = 1e-4
"""Widening (units of f x̂) of :func:`sawtooth_lower`'s intervals, far above float32
rounding of f x̂ (|f x̂| <= 200 or so): a drop at an interval's end is never missed."""


def sawtooth_lower(x: Points, half: torch.Tensor, amplitude: float, frequency: float) -> Field:
    """A lower bound of :func:`sawtooth` over the boxes ``x`` +/- ``half`` (per axis).

    Per axis the tooth u - floor(0.5 + u), u = f x̂, rises with slope 1 and drops from 1/2
    to -1/2 at u = k + 1/2: over [a, b] it lies in [tooth(a), tooth(b)], or in [-1/2, 1/2]
    where a drop lies in between. The intervals are widened by ``SAW_SLACK``.
    """
    c, h = frequency * x, (abs(frequency) * half).add_(SAW_SLACK)
    a, b = c - h, c + h
    drop = torch.floor(0.5 + a) != torch.floor(0.5 + b)
    if amplitude >= 0.0:  # the least tooth per axis
        tooth = torch.where(drop, -0.5, a - torch.floor(0.5 + a))
    else:  # the largest
        tooth = torch.where(drop, 0.5, b - torch.floor(0.5 + b))
    return amplitude * (2.0 / math.pi) * tooth.sum(-1)


@_family(
    "sawtooth",
    {"amplitude": 0.03, "frequency": 15.0},
    -3.0 / math.pi,
    3.0 / math.pi,
    axis_symmetric=True,
    lower=sawtooth_lower,
)
def sawtooth(x: Points, amplitude: float, frequency: float) -> Field:
    """A·Σ_axes (2/π)(f x̂ − floor(0.5 + f x̂))."""
    fx = frequency * x
    return amplitude * (2.0 / math.pi) * (fx - torch.floor(0.5 + fx)).sum(-1)


_GRADIENTS = torch.tensor(
    [
        [1, 1, 0],
        [-1, 1, 0],
        [1, -1, 0],
        [-1, -1, 0],
        [1, 0, 1],
        [-1, 0, 1],
        [1, 0, -1],
        [-1, 0, -1],
        [0, 1, 1],
        [0, -1, 1],
        [0, 1, -1],
        [0, -1, -1],
    ],
    dtype=torch.float32,
)


def _permutation(seed: int, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(256, generator=gen)
    return torch.cat([perm, perm]).to(device)


def perlin3(x: Points, seed: int = 0) -> Field:
    """Classic 3D gradient (Perlin) noise in about [-1, 1], vectorised over (N, 3) points."""
    perm = _permutation(seed, x.device)
    grads = _GRADIENTS.to(x.device)
    cell = torch.floor(x)
    f = x - cell
    i = cell.long() & 255
    u = f * f * f * (f * (f * 6.0 - 15.0) + 10.0)
    out = None
    for corner in range(8):
        o = torch.tensor([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1], device=x.device)
        ix, iy, iz = (i + o).unbind(-1)
        h = perm[perm[perm[ix & 255] + (iy & 255)] + (iz & 255)] % 12
        dot = (grads[h] * (f - o.to(x.dtype))).sum(-1)
        w = torch.where(o.bool(), u, 1.0 - u).prod(-1)
        out = dot * w if out is None else out + dot * w
    assert out is not None
    return out


@_family(
    "gradient_noise",
    {"amplitude": 0.03, "frequency": 4.0, "octaves": 3, "persistence": 0.5, "seed": 0},
    -formula_functions.BOUND,  # |perlin3| exceeds 1 (about 1.017 at its maxima)
    formula_functions.BOUND,
)
def gradient_noise(
    x: Points,
    amplitude: float,
    frequency: float,
    octaves: float = 3,
    persistence: float = 0.5,
    seed: float = 0,
) -> Field:
    """A·Σ_o p^o·perlin(2^o f x̂) / Σ_o p^o: true Perlin gradient noise with octaves."""
    total, norm = None, 0.0
    for o in range(int(octaves)):
        w = persistence**o
        n = perlin3(x * (frequency * 2.0**o), seed=int(seed) + o) * w
        total = n if total is None else total + n
        norm += w
    assert total is not None
    return amplitude * total / norm


@dataclass(frozen=True)
class Displacement(Instance):
    """A named displacement instance: a family plus parameters; called on x̂, gives Δ."""

    families: ClassVar[Registry[DisplacementFamily]] = FAMILIES
    kind: ClassVar[str] = "displacement"

    def outward(self) -> float:
        """How far (half-grid units) Δ can move the surface outwards: max(0, -min Δ)."""
        return max(0.0, -self.range()[0])

    def inward(self) -> float:
        """How far (half-grid units) Δ can move the surface inwards: max(0, max Δ)."""
        return max(0.0, self.range()[1])

    def range(self) -> tuple[float, float]:
        """(min Δ, max Δ) in half-grid units; a negative amplitude swaps the family's
        bounds (a one-sided family then moves the surface outwards)."""
        if self.spec.bounds is not None:
            return self.spec.bounds(**self.resolved())
        a = self.resolved()["amplitude"]
        low, high = self.spec.low * a, self.spec.high * a
        return min(low, high), max(low, high)

    def lower(self, x: Points, half: torch.Tensor) -> Field | None:
        """A lower bound of Δ over the boxes ``x`` +/- ``half`` (x̂ units, per axis); None
        when the family gives none."""
        bound = self.spec.lower
        return None if bound is None else bound(x, half, **self.resolved())

    def lipschitz(self) -> float | None:
        """A bound on |grad Δ| (half-grid units of Δ per half-grid unit of x̂); None when
        the family gives none (jumps, noise, formulas)."""
        bound = self.spec.lipschitz
        return None if bound is None else float(bound(**self.resolved()))


FAMILIES.add(
    "expression",
    DisplacementFamily(
        "expression",
        expression.displacement_field,
        {},
        -math.inf,
        math.inf,
        "A typed formula of x̂, ŷ, ẑ (``x, y, z``) and named parameters "
        "(fdif_core.engine.textures.expression); bounds by interval arithmetic.",
        bounds=expression.displacement_bounds,
        check=expression.check_displacement,
    ),
)
check_params = Displacement.check_params

DISPLACEMENTS: Registry[Displacement] = Registry("displacement")
for _name, _fam, _a, _f in (
    ("perlin_more_fine", "sine_lattice", 0.03, 50.0),
    ("perlin_fine", "sine_lattice", 0.01, 30.0),
    ("turbulence", "turbulence", 0.05, 30.0),
    ("ridge", "ridge", 0.03, 30.0),
    ("ridge_coarse", "ridge", 0.05, 10.0),
    ("sharpmax", "sharp_max", 0.05, 20.0),
    ("sharpmax_fine", "sharp_max", 0.03, 40.0),
    ("twisted_x", "axis_stripes", 0.04, 20.0),
    ("sawtooth", "sawtooth", 0.03, 15.0),
):
    DISPLACEMENTS.add(_name, Displacement(_name, _fam, {"amplitude": _a, "frequency": _f}))
PAPER_DISPLACEMENTS: list[str] = DISPLACEMENTS.names
DISPLACEMENTS.add(
    "perlin_noise",
    Displacement(
        "perlin_noise", "gradient_noise", {"amplitude": 0.03, "frequency": 4.0, "octaves": 3}
    ),
)
