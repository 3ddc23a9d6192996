"""Fields of the primitive classes in the two geometries, their boxes and Lipschitz constants.

``exact``: every field is a true SDF or a conservative bound (|grad| <= 1); onions are closed
3D shells. ``authors``: the fields of the authors' released generator (the paper's data):
unscaled profiled sections, the 0.3577-scaled octahedron, onions hollowed in 2D before
extrusion (open tubes), revolutions without a mirror image. docs/method.md has each
construction, its source line in the authors' code and the reasons for each difference.
Which geometry a sampled object uses is ``params["geometry"]`` (default ``exact``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import torch

from ..types import Field, Params, Points
from . import ops, sections

if TYPE_CHECKING:
    from .library import PrimitiveClass

GEOMETRIES = ("authors", "exact")
OCTAHEDRON_SCALE = 0.35773502691896257
"""The authors' octahedron factor (their comment says 1/sqrt(3) = 0.5773..., digits swapped)."""
SCALE_FLOOR = 1e-6  # the authors' floor on the section scale


def style(p: Params) -> str:
    return str(p.get("geometry", "exact"))


def section_extent(cls: PrimitiveClass, p: Params) -> float:
    """Largest distance of the (unscaled) section boundary from its centre."""
    if cls.section == "polygon":
        return max(math.hypot(x, y) for x, y in p["vertices"])  # type: ignore[union-attr]
    if cls.section == "ellipse":
        return max(p["radii"])  # type: ignore[arg-type]
    if cls.section == "triangle":
        return math.hypot(float(p["radius"]), 0.5 * float(p["height"]))  # type: ignore[arg-type]
    return float(p["radius"])  # type: ignore[arg-type]


def _star(q: torch.Tensor, n: int, radius: float, ratio: float) -> Field:
    # tips along the section's second axis (the revolution axis), as the classic sdStar has them
    return sections.star(q.flip(-1), n, radius, ratio)


def section_fn(cls: PrimitiveClass, p: Params) -> Callable[[torch.Tensor], Field]:
    """The class's 2D section field (unscaled)."""
    if cls.section == "polygon":
        return partial(sections.polygon, vertices=p["vertices"])
    if cls.section == "star":
        return partial(_star, n=cls.n, radius=float(p["radius"]), ratio=float(p["star_ratio"]))  # type: ignore[arg-type]
    if cls.section == "ellipse":
        return partial(sections.ellipse, radii=tuple(p["radii"]))  # type: ignore[arg-type]
    if cls.section == "triangle":
        r, hh = float(p["radius"]), 0.5 * float(p["height"])  # type: ignore[arg-type]
        return partial(sections.polygon, vertices=[[-r, -hh], [r, -hh], [0.0, hh]])
    return partial(sections.circle, radius=float(p["radius"]))  # type: ignore[arg-type]


def _profile(p: Params) -> tuple[tuple[float, float, float], float]:
    return tuple(p["knots"]), float(p["neck"])  # type: ignore[return-value,arg-type]


def authors_section(cls: PrimitiveClass, p: Params, pts: Points) -> Field:
    """The authors' section field over 3D points: d2(q), or s(z) d2(q / s(z)) when profiled."""
    section = section_fn(cls, p)
    if cls.profile == "none":
        return section(pts[:, :2])
    knots, neck = _profile(p)
    return ops.scaled_section(section, pts, float(p["half_height"]), knots, neck)  # type: ignore[arg-type]


def evaluate_solid(cls: PrimitiveClass, p: Params, pts: Points) -> Field:
    """The class's field before any onion shell."""
    authors = style(p) == "authors"
    if cls.section == "octahedron":
        size = float(p["size"])  # type: ignore[arg-type]
        return (
            ops.octahedron_bound(pts, size, OCTAHEDRON_SCALE)
            if authors
            else ops.octahedron(pts, size)
        )
    section = section_fn(cls, p)
    if cls.construction == "revolution":
        return ops.revolve(section, pts, float(p.get("offset", 0.0)), mirror=not authors)  # type: ignore[arg-type]
    h = float(p["half_height"])  # type: ignore[arg-type]
    if authors:
        return ops.extrude(authors_section(cls, p, pts), pts[:, 2], h)
    if cls.profile == "none":
        return ops.extrude(section(pts[:, :2]), pts[:, 2], h)
    knots, neck = _profile(p)
    return ops.profiled_extrude(section, pts, h, knots, neck, float(p["lipschitz"]))  # type: ignore[arg-type]


def evaluate(cls: PrimitiveClass, p: Params, pts: Points) -> Field:
    """The field of ``cls`` with params ``p`` at object-space points ``pts`` (N, 3)."""
    if not cls.onion:
        return evaluate_solid(cls, p, pts)
    t = float(p["thickness"])  # type: ignore[arg-type]
    if style(p) == "authors":  # hollow the section, then extrude: an open-ended tube
        d2 = ops.onion(authors_section(cls, p, pts), t)
        return ops.extrude(d2, pts[:, 2], float(p["half_height"]))  # type: ignore[arg-type]
    return ops.onion(evaluate_solid(cls, p, pts), t)


# --------------------------------------------------------------------------- bounds
def _max_scale(p: Params, reach: float) -> float:
    """Largest section scale over |z| <= h + reach (1 without a profile)."""
    if "knots" not in p:
        return 1.0
    knots, neck = _profile(p)
    h = float(p["half_height"])  # type: ignore[arg-type]
    clamp = style(p) != "authors"
    a = h + reach
    z = (-a, a, min(max(neck, -a), a))
    return max(max(ops.profile_scale_float(v, knots, neck, h, clamp) for v in z), SCALE_FLOOR)


def field_slack(cls: PrimitiveClass, p: Params) -> float:
    """How much farther than its value an exact-geometry field's level sets can lie."""
    slack = float(p.get("lipschitz", 1.0))  # type: ignore[arg-type]
    if cls.section == "ellipse":
        slack *= max(p["radii"]) / min(p["radii"])  # type: ignore[arg-type]
    return slack


def reach_extents(cls: PrimitiveClass, p: Params, reach: float = 0.0) -> tuple[float, float, float]:
    """Object-space half-extents of a centred box holding every point with field <= reach."""
    authors = style(p) == "authors"
    t = float(p.get("thickness", 0.0))  # type: ignore[arg-type]
    if cls.section == "octahedron":
        s = float(p["size"]) + reach / (OCTAHEDRON_SCALE if authors else 1.0)  # type: ignore[arg-type]
        return (s, s, s)
    if cls.construction == "revolution":
        r = section_extent(cls, p) + t
        off = float(p.get("offset", 0.0))  # type: ignore[arg-type]
        ext = (off + r, off + r, r)
    elif authors:  # |perp| <= s R + t + reach with s up to its largest value within reach
        r = section_extent(cls, p) * _max_scale(p, reach) + t + reach
        return (r, r, float(p["half_height"]) + reach)  # type: ignore[arg-type]
    else:  # |d| <= t + reach with d = s d2(q / s) / L: |q| <= s R + (t + reach) L (L: slack)
        r = section_extent(cls, p) * _max_scale(p, 0.0) + t * field_slack(cls, p)
        ext = (r, r, float(p["half_height"]) + t)  # type: ignore[arg-type]
    grow = reach * (1.0 if authors else field_slack(cls, p))
    return (ext[0] + grow, ext[1] + grow, ext[2] + grow)


def half_extents(cls: PrimitiveClass, p: Params) -> tuple[float, float, float]:
    """Object-space box (centred) that contains the object."""
    return reach_extents(cls, p, 0.0)


def section_lipschitz(cls: PrimitiveClass, p: Params) -> float:
    """Lipschitz constant of the authors' (profiled) section field over 3D points."""
    if cls.profile == "none" or "knots" not in p:
        return 1.0
    knots, neck = _profile(p)
    h = float(p["half_height"])  # type: ignore[arg-type]
    slope = ops.profile_slope(knots, neck, h, clamp=False) * section_extent(cls, p)
    return math.sqrt(1.0 + slope**2)


def field_lipschitz(cls: PrimitiveClass, p: Params) -> float:
    """Lipschitz constant of the field (1 for every exact-geometry field)."""
    if style(p) != "authors":
        return 1.0
    if cls.section == "octahedron":
        return OCTAHEDRON_SCALE * math.sqrt(3.0)
    if cls.construction == "prism" and cls.profile != "none":
        return ops.extrusion_lipschitz(math.sqrt(section_lipschitz(cls, p) ** 2 - 1.0))
    return 1.0


def block_lipschitz(
    cls: PrimitiveClass, p: Params, z: torch.Tensor, z_reach: float
) -> torch.Tensor | float:
    """Lipschitz constants of the field over blocks whose object-space z spans z +- z_reach.

    Only an authors' profiled prism differs from :func:`field_lipschitz`: a block sees the
    slopes of just the profile pieces that meet its axial range.
    """
    if style(p) != "authors" or cls.construction != "prism" or "knots" not in p:
        return field_lipschitz(cls, p)
    knots, neck = _profile(p)
    low, up = ops.piece_slopes(knots, neck, float(p["half_height"]))  # type: ignore[arg-type]
    slope = torch.where(z - z_reach < neck, low, 0.0).maximum(
        torch.where(z + z_reach >= neck, up, 0.0)
    )
    t = 2.0 + (slope * section_extent(cls, p)) ** 2
    return torch.sqrt((t + torch.sqrt(t * t - 4.0)) / 2.0)


def depth(cls: PrimitiveClass, p: Params) -> float:
    """Depth of the deepest interior point, |min d| (estimated on a 32^3 object-space grid)."""
    ext = half_extents(cls, {k: v for k, v in p.items() if k != "thickness"})
    axes = [torch.linspace(-e, e, 32) for e in ext]
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    return float(-evaluate_solid(cls, p, pts).min().clamp(max=0.0))


def _star_shaped(cls: PrimitiveClass, p: Params) -> bool:
    """Whether the section K is star-shaped about its centre (s K grows with s): stars,
    circles, ellipses, and polygons whose vertices wind once round the centre in gaps < pi."""
    if cls.section in ("star", "circle", "ellipse"):
        return True
    if cls.section != "polygon":
        return False
    ang = [math.atan2(y, x) for x, y in p["vertices"]]  # type: ignore[union-attr]
    gaps = [(b - a) % (2.0 * math.pi) for a, b in zip(ang, ang[1:] + ang[:1], strict=True)]
    return max(gaps) < math.pi and abs(sum(gaps) - 2.0 * math.pi) < 1e-6


BOUND_SLACK = 1e-3
"""Voxels added to :func:`block_bounds`' margins, far above float32 rounding of the fields."""


def block_bounds(
    cls: PrimitiveClass,
    p: Params,
    centres: Points,
    rho: float,
    z_reach: float,
    upper: bool = True,
) -> tuple[Field, Field | None] | None:
    """Lower and upper bounds of an authors' profiled prism's field over blocks (else None).

    The blocks have object-space centres ``centres``, lie within ``rho`` of them across the
    axis and within ``z_reach`` along it. For a section K star-shaped about its centre,
    s d2(q / s) is the signed distance to s K, which falls as s grows (s K grows); so over
    a block smax d2(qc / smax) - rho <= F <= smin d2(qc / smin) + rho (F is 1-Lipschitz
    in q), with smin, smax the profile's extremes over the block's axial range. The onion
    |F| - t and the extrusion are monotone in |F|, F and |z|, so the bounds carry through
    them. Unlike a Lipschitz bound, these do not grow with the profile's slope (20 and
    more for necks near an end). ``upper=False``: the lower bounds alone, the same values
    (high is None but for onions; the section is taken at qc / smax only).
    """
    if (
        style(p) != "authors"
        or cls.construction != "prism"
        or "knots" not in p
        or not _star_shaped(cls, p)
    ):
        return None
    knots, neck = _profile(p)
    h = float(p["half_height"])  # type: ignore[arg-type]
    zc = centres[:, 2]
    lo, hi = zc - z_reach, zc + z_reach
    zs = torch.stack([lo, hi, torch.clamp(torch.full_like(lo, neck), lo, hi)])
    s = ops.profile_scale(zs, knots, neck, h, clamp=False).clamp_min(SCALE_FLOOR)
    smax, smin = s.amax(0), s.amin(0)
    section = section_fn(cls, p)
    q = centres[:, :2]
    if upper or cls.onion:  # an onion's lower bound needs F's upper one (|F| - t)
        both = section(torch.cat([q / smax[:, None], q / smin[:, None]]))  # one call: fewer ops
        low = smax * both[: len(q)] - rho
        high = smin * both[len(q) :] + rho
    else:
        low, high = smax * section(q / smax[:, None]) - rho, None
    if cls.onion:
        t = float(p["thickness"])  # type: ignore[arg-type]
        low, high = (
            torch.maximum(low, -high).clamp_min(0.0) - t,
            torch.maximum(low.abs(), high.abs()) - t,
        )
    z = zc.abs()
    low = ops.extrude(low, (z - z_reach).clamp_min(0.0), h) - BOUND_SLACK
    if high is None:
        return low, None
    high = ops.extrude(high, z + z_reach, h) + BOUND_SLACK
    return low, high
