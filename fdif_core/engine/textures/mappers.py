"""Mappers g (intensity texture), docs/method.md: I = g(φ̃), d = φ̃ in voxels.

All are 0 outside the surface (d > 0) except ``inverse_cube``, whose halo is cut where it
falls below ``HALO_CUTOFF`` so that objects can be evaluated inside a bounded box.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch

from ..params import TEXTURE_PARAMS, Param
from ..registry import Registry
from ..types import Field
from . import expression
from .instances import Instance

HALO_CUTOFF = 0.1
"""Intensity below which a mapper's tail outside the surface is dropped."""


@dataclass(frozen=True)
class MapperFamily:
    name: str
    fn: Callable[..., Field]
    defaults: dict[str, float]
    halo: Callable[..., float]  # voxels outside the surface where g can exceed HALO_CUTOFF
    doc: str
    check: Callable[[dict], None] | None = None  # validates params (formula families)

    @property
    def params(self) -> dict[str, Param]:
        """Domain, unit and editing window of each parameter (a formula's are its own)."""
        return {k: TEXTURE_PARAMS.get(k) for k in self.defaults}


FAMILIES: Registry[MapperFamily] = Registry("mapper family")


def _no_halo(**_: float) -> float:
    return 0.0


def _family(name: str, defaults: dict[str, float], halo: Callable[..., float] = _no_halo):
    def deco(fn: Callable[..., Field]) -> Callable[..., Field]:
        FAMILIES.add(name, MapperFamily(name, fn, defaults, halo, (fn.__doc__ or "").strip()))
        return fn

    return deco


def _inside(d: Field, value: Field) -> Field:
    return torch.where(d <= 0.0, value, 0.0)  # a scalar 0: no zero tensor to fill


def _inverse_cube_halo(peak: float = 128.0) -> float:
    return (peak / HALO_CUTOFF - 1.0) ** (1.0 / 3.0)


@_family("inverse_cube", {"peak": 128.0}, _inverse_cube_halo)
def inverse_cube(d: Field, peak: float = 128.0) -> Field:
    """peak / (|d|³ + 1) everywhere (a faint halo outside, cut below HALO_CUTOFF)."""
    v = peak / (d.abs() ** 3 + 1.0)
    return torch.where(v >= HALO_CUTOFF, v, 0.0)


@_family("exponential", {"base": 2.0, "peak": 128.0})
def exponential(d: Field, base: float, peak: float = 128.0) -> Field:
    """peak · base^d inside."""
    return _inside(d, peak * torch.exp(d.clamp(max=0.0) * math.log(base)))


@_family("linear", {"slope": 10.0, "peak": 128.0})
def linear(d: Field, slope: float, peak: float = 128.0) -> Field:
    """clip(peak + slope·d, 0, peak) inside."""
    return _inside(d, (peak + slope * d).clamp(0.0, peak))


@_family("floor", {"width": 1.0, "step": 10.0, "peak": 128.0})
def floor(d: Field, width: float, step: float = 10.0, peak: float = 128.0) -> Field:
    """clip(step·ceil(d / w) + peak, 0, peak) inside: terraces of width w."""
    return _inside(d, (step * torch.ceil(d / width) + peak).clamp(0.0, peak))


@_family("modular", {"modulus": 5, "width": 1.0, "peak": 128.0})
def modular(d: Field, modulus: float, width: float, peak: float = 128.0) -> Field:
    """((−floor(−d / w) + M − 1) mod M) · peak / (M − 1) inside: repeating bands."""
    m = float(modulus)
    k = torch.remainder(-torch.floor(-d / width) + m - 1.0, m)
    return _inside(d, k * peak / (m - 1.0))


@_family("sinusoidal", {"wavelength": 1.0, "peak": 128.0})
def sinusoidal(d: Field, wavelength: float, peak: float = 128.0) -> Field:
    """(peak / 2) · (cos(2π d / λ) + 1) inside."""
    return _inside(d, 0.5 * peak * (torch.cos(2.0 * math.pi * d / wavelength) + 1.0))


@_family("constant", {"value": 128.0})
def constant(d: Field, value: float) -> Field:
    """A flat value inside (PrimGeoSeg's 128)."""
    return _inside(d, torch.full_like(d, value))


@dataclass(frozen=True)
class Mapper(Instance):
    """A named mapper instance: a family plus parameters; called on d, gives intensity."""

    families: ClassVar[Registry[MapperFamily]] = FAMILIES
    kind: ClassVar[str] = "mapper"

    @cached_property
    def uses_position(self) -> bool:
        """A formula that reads x, y or z (object coordinates / (G/2)): the engine then
        passes them as well as d."""
        return self.spec.check is not None and expression.mapper_uses_position(self.resolved())

    def __call__(self, d: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """g(d); a formula reading x, y, z gets them from ``x`` (N, 3) (0 when None)."""
        if self.spec.check is not None:
            return self.spec.fn(d, x, **self.resolved())
        return self.spec.fn(d, **self.resolved())

    def halo(self) -> float:
        """Voxels outside the surface where the mapper can still exceed HALO_CUTOFF."""
        if self.spec.check is not None:  # a formula: its halo depends on all its params
            return float(self.spec.halo(**self.resolved()))
        return float(self.spec.halo(**{k: v for k, v in self.resolved().items() if k == "peak"}))


FAMILIES.add(
    "expression",
    MapperFamily(
        "expression",
        expression.mapper_field,
        {},
        expression.mapper_halo,
        "A typed formula of the signed distance ``d`` (voxels) and named parameters "
        "(fdif_core.engine.textures.expression); zero outside unless outside: 1.",
        check=expression.check_mapper,
    ),
)
check_params = Mapper.check_params

MAPPERS: Registry[Mapper] = Registry("mapper")
for _m in (
    Mapper("inverse_cube", "inverse_cube"),
    Mapper("exponential_base_1.5", "exponential", {"base": 1.5}),
    Mapper("exponential_base_2.0", "exponential", {"base": 2.0}),
    Mapper("linear_slope_10.0", "linear", {"slope": 10.0}),
    Mapper("floor_width_0.5", "floor", {"width": 0.5}),
    Mapper("floor_width_1.0", "floor", {"width": 1.0}),
    Mapper("modular_5", "modular", {"modulus": 5, "width": 1.0}),
    Mapper("modular_10", "modular", {"modulus": 10, "width": 0.5}),
    Mapper("sinusoidal_wavelength_1.0", "sinusoidal", {"wavelength": 1.0}),
    Mapper("sinusoidal_wavelength_3.0", "sinusoidal", {"wavelength": 3.0}),
):
    MAPPERS.add(_m.name, _m)
PAPER_MAPPERS: list[str] = MAPPERS.names
MAPPERS.add("flat_128", Mapper("flat_128", "constant", {"value": 128.0}))
