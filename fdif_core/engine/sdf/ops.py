"""Ways to build 3D SDFs from 2D sections: extrusion, axial profiles, revolution, onion.

Object space: the axis is z, the section plane is (x, y).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch

from ..types import Field, Points, Points2D

Section = Callable[[Points2D], Field]


def extrude(d2: Field, z: torch.Tensor, half_height: float) -> Field:
    """Exact bounded extrusion: with w = (d2, |z| - h), ``min(max(w), 0) + |max(w, 0)|``."""
    wz = z.abs() - half_height
    inside = torch.clamp(torch.maximum(d2, wz), max=0.0)
    outside = torch.hypot(d2.clamp_min(0.0), wz.clamp_min(0.0))
    return inside + outside


def profile_scale(
    z: torch.Tensor,
    knots: tuple[float, float, float],
    neck: float,
    half_height: float,
    clamp: bool = True,
) -> torch.Tensor:
    """Piecewise-linear section scale s(z) through (-h, s0), (neck, s1), (h, s2).

    ``clamp``: constant beyond the ends (the exact geometry). Unclamped (the authors'
    geometry), each piece extends as a line, the lower one for z < neck, the upper one
    beyond; the neck may lie outside [-h, h] (docs/method.md, "Axial profiles").
    """
    h = half_height
    zc = z.clamp(-h, h) if clamp else z
    s0, s1, ds0, ds1, h_t, neck_t, d0, d1 = _profile_constants(
        (*map(float, knots), float(neck), float(h)), z.dtype, z.device
    )
    # s0 + (s1 - s0) (zc + h) / (neck + h), the constants as the Python floats round to z's
    # dtype (the same operations; no scalar conversion per operator call)
    lower = ((zc + h_t) * ds0).div_(d0).add_(s0)
    upper = ((zc - neck_t) * ds1).div_(d1).add_(s1)
    return torch.where(zc < neck, lower, upper)


def profile_scale_float(
    z: float,
    knots: tuple[float, float, float],
    neck: float,
    half_height: float,
    clamp: bool = True,
) -> float:
    """:func:`profile_scale` at one point in Python floats: the same float64 operations
    in the same order (its float64 result, bit for bit; no tensors for a box's 3 values)."""
    h = float(half_height)
    zc = min(max(z, -h), h) if clamp else z
    s0, s1, s2 = map(float, knots)
    neck = float(neck)
    if zc < neck:
        return (zc + h) * (s1 - s0) / _nonzero(neck + h) + s0
    return (zc - neck) * (s2 - s1) / _nonzero(h - neck) + s1


@lru_cache(maxsize=1024)
def _profile_constants(
    values: tuple[float, ...], dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """0-dim tensors s0, s1, s1 - s0, s2 - s1, h, neck, neck + h, h - neck (``_nonzero``)."""
    s0, s1, s2, neck, h = values
    out = (s0, s1, s1 - s0, s2 - s1, h, neck, _nonzero(neck + h), _nonzero(h - neck))
    return tuple(torch.tensor(v, dtype=dtype, device=device) for v in out)


def _nonzero(x: float) -> float:
    return x if abs(x) > 1e-9 else math.copysign(1e-9, x)


def piece_slopes(
    knots: tuple[float, float, float], neck: float, half_height: float
) -> tuple[float, float]:
    """|s'| of the lower (z < neck) and upper pieces of :func:`profile_scale`."""
    s0, s1, s2 = knots
    h = half_height
    return abs(s1 - s0) / abs(_nonzero(neck + h)), abs(s2 - s1) / abs(_nonzero(h - neck))


def profile_slope(
    knots: tuple[float, float, float], neck: float, half_height: float, clamp: bool = True
) -> float:
    """Largest |s'(z)| of :func:`profile_scale` (clamped: of the pieces used inside [-h, h])."""
    low, up = piece_slopes(knots, neck, half_height)
    if clamp and neck <= -half_height:
        return up
    if clamp and neck >= half_height:
        return low
    return max(low, up)


def profile_lipschitz(
    knots: tuple[float, float, float], neck: float, half_height: float, extent: float
) -> float:
    """Lipschitz bound of ``s(z) * d2(q / s(z))``: sqrt(1 + (max|s'| * R)^2), R = section extent.

    d/dz of s d2(q/s) is s' (d2(u) - grad d2(u) . u), u = q / s, and |d2(u) - grad d2 . u|
    is |n . b| <= |b| <= R for b the boundary point nearest u.
    """
    slope = profile_slope(knots, neck, half_height)
    return float((1.0 + (slope * extent) ** 2) ** 0.5)


def extrusion_lipschitz(section_slope: float) -> float:
    """Lipschitz bound of :func:`extrude` over a section field whose gradient is at most 1
    across the axis and ``section_slope`` along it: the largest singular value of the
    Jacobian rows (grad_q d2, d2_z) and (0, 0, 1), sqrt((T + sqrt(T^2 - 4)) / 2), T = 2 + S^2."""
    t = 2.0 + section_slope**2
    return float(((t + (t * t - 4.0) ** 0.5) / 2.0) ** 0.5)


def scaled_section(
    section: Section,
    p: Points,
    half_height: float,
    knots: tuple[float, float, float],
    neck: float,
) -> Field:
    """The authors' profiled section: ``s * d2(q / s)``, s unclamped and floored at 1e-6.

    Not divided by its Lipschitz constant, so its values inside are those of the scaled
    section (the mappers read them); see :func:`profile_lipschitz` for its slope.
    """
    s = profile_scale(p[:, 2], knots, neck, half_height, clamp=False).clamp_min(1e-6)
    return s * section(p[:, :2] / s[:, None])


def profiled_extrude(
    section: Section,
    p: Points,
    half_height: float,
    knots: tuple[float, float, float],
    neck: float,
    lipschitz: float,
) -> Field:
    """Extrusion whose section is scaled by s(z): ``max(s * d2(q / s) / L, |z| - h)``.

    Dividing by the profile's Lipschitz constant L and intersecting with the slab keeps
    a conservative bound (|grad| <= 1) with the exact zero level set.
    """
    z = p[:, 2]
    s = profile_scale(z, knots, neck, half_height).clamp_min(0.02)
    d2 = s * section(p[:, :2] / s[:, None]) / lipschitz
    return torch.maximum(d2, z.abs() - half_height)


def revolve(section: Section, p: Points, offset: float, mirror: bool = True) -> Field:
    """Revolve a section about z at ``offset`` from the axis: ``d2(sqrt(x^2 + y^2) - offset, z)``.

    ``mirror``: the section is united with its mirror image across the axis, so a section
    that reaches the axis still gives an exact field outside (a bound inside). Without it
    (the authors' geometry), the part of the section beyond the axis is cut off.
    """
    rho = torch.hypot(p[:, 0], p[:, 1])
    z = p[:, 2]
    near = section(torch.stack([rho - offset, z], dim=-1))
    if offset == 0.0 or not mirror:
        return near
    far = section(torch.stack([-rho - offset, z], dim=-1))
    return torch.minimum(near, far)


def onion(d: Field, thickness: float) -> Field:
    """Hollow shell of half-thickness t around the surface: ``|d| - t``."""
    return d.abs() - thickness


def octahedron_bound(p: Points, size: float, scale: float) -> Field:
    """``scale * (|x| + |y| + |z| - size)``: exact inside/outside, a multiple of the plane
    distance (the exact face distance for scale = 1/sqrt(3)); Lipschitz ``scale * sqrt(3)``."""
    return scale * (p.abs().sum(-1) - size)


def octahedron(p: Points, size: float) -> Field:
    """Exact SDF of a regular octahedron |x| + |y| + |z| = size."""
    a = p.abs()
    m = a.sum(-1) - size
    x, y, z = a.unbind(-1)
    # choose the permutation (q.x, q.y, q.z) of the first axis with 3 * a < m
    cx, cy = 3.0 * x < m, 3.0 * y < m
    qx = torch.where(cx, x, torch.where(cy, y, z))
    qy = torch.where(cx, y, torch.where(cy, z, x))
    qz = torch.where(cx, z, torch.where(cy, x, y))
    k = (0.5 * (qz - qy + size)).clamp(0.0, size)
    edge = torch.sqrt(qx * qx + (qy - size + k) ** 2 + (qz - k) ** 2)
    face = m * 0.57735027
    near_face = ~(cx | cy | (3.0 * z < m))
    return torch.where(near_face, face, edge)
