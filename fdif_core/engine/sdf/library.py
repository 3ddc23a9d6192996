"""The primitive library: 109 FDIF classes (plus PrimGeoSeg's ellipse prisms) as table rows.

A class is data (section, vertex count, construction, profile, onion) named by one grammar,
``<section>[_<n>]_<construction>[_<profile>][_onion]``; the basic solids keep their own names.
``sample_params`` draws concrete parameters, ``evaluate`` (in ``geometry``) turns them into a
field. Constructions, ranges and their sources in the authors' code: docs/method.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import torch

from ..grid import lattice_minimum
from ..params import SHAPE_PARAMS
from ..pose import Pose
from ..registry import Registry
from ..types import Params, Range
from . import ops, sections
from .geometry import (
    GEOMETRIES,
    authors_section,
    depth,
    evaluate,
    evaluate_solid,
    field_lipschitz,
    field_slack,
    half_extents,
    reach_extents,
    section_extent,
    section_fn,
)

# What each part of a class adds to the parameters it draws (names in SHAPE_PARAMS):
SECTION_PARAMS: dict[str, tuple[str, ...]] = {  # section kind -> its parameters
    "circle": (),
    "ellipse": ("aspect",),
    "polygon": (),  # vertices are drawn, not parameterised
    "star": ("star_w",),
    "triangle": (),
    "octahedron": (),
}
PROFILE_PARAMS: dict[str, tuple[str, ...]] = {
    "none": (),
    "convex": ("peak_scale", "neck"),
    "concave": ("neck_scale", "neck"),
    "cone": ("end_scale",),
}
CONSTRUCTIONS = ("prism", "revolution", "solid")
PROFILES = tuple(PROFILE_PARAMS)

# Sampling ranges of the authors' released generator (docs/method.md gives each source line).
# Lengths are fractions of the grid edge G; the rest are ratios. ``half_height``: the authors
# draw the full height in 0.10-0.50 G and halve it. ``star_w``: the classic star's w (not
# its inner radius, see sections.star_inner_ratio). ``neck``: a fraction of the full height.
PRISM_RANGES: dict[str, Range] = {
    "radius": (0.15, 0.40),
    "half_height": (0.05, 0.25),
    "star_w": (0.2, 0.7),
}
PROFILE_RANGES: dict[str, dict[str, Range]] = {
    "none": {},
    "convex": {"peak_scale": (2.0, 4.0), "neck": (-0.7, 0.7), "radius": (0.05, 0.20)},
    "concave": {"neck_scale": (0.2, 0.5), "neck": (-0.7, 0.7)},
    "cone": {"end_scale": (0.0, 1.6)},
}
ONION_RANGES: dict[str, Range] = {"onion_ratio": (0.2, 0.5)}
TUBE_RANGES: dict[str, Range] = {"major_radius": (0.15, 0.40), "minor_ratio": (0.4, 0.8)}
TUBE_VERTEX_MIN = 0.03  # polygon tori: vertex radii from 0.03 G up to the minor radius
MIN_AREA_RATIO = 0.3  # exact geometry: sliver rejection (see _polygon_vertices)
MIN_SHELL = 0.75  # voxels: the thinnest closed onion half-thickness, so that a shell stays visible


@dataclass(frozen=True)
class PrimitiveClass:
    """One primitive class: how to build it and the ranges its parameters are drawn from."""

    name: str
    family: str
    section: str  # circle | ellipse | polygon | star | triangle | octahedron
    construction: str  # prism | revolution | solid
    n: int = 0
    profile: str = "none"
    onion: bool = False
    ranges: dict[str, Range] = field(default_factory=dict)
    library: str = "fdif"  # "fdif" (the paper's 109) or "primgeoseg"

    def __post_init__(self) -> None:
        if self.section not in SECTION_PARAMS or self.profile not in PROFILE_PARAMS:
            raise ValueError(f"{self.name}: section {self.section!r}, profile {self.profile!r}")
        if self.construction not in CONSTRUCTIONS:
            raise ValueError(f"{self.name}: construction {self.construction!r}")
        missing = [k for k in self.params if k not in self.ranges or k not in SHAPE_PARAMS]
        if missing:
            raise ValueError(f"{self.name}: no range or metadata for {missing}")

    @property
    def torus(self) -> bool:
        """A revolution of a section around a ring (its own ring radius, not a preset's)."""
        return self.construction == "revolution" and "major_radius" in self.ranges

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters :func:`sample_params` draws for this class, in display order."""
        sec = SECTION_PARAMS[self.section]
        if self.section == "octahedron":
            names: tuple[str, ...] = ("size",)
        elif self.name == "sphere":
            names = ("radius",)
        elif self.name == "cone":
            names = ("radius", "height")
        elif self.torus:
            names = ("major_radius", "minor_ratio", *sec)
        elif self.construction == "revolution":
            names = ("radius", *sec, "offset_ratio")
        else:
            names = ("radius", "half_height", *sec, *PROFILE_PARAMS[self.profile])
        return (*names, "onion_ratio") if self.onion else names

    @property
    def description(self) -> str:
        parts = [self.section + (f" ({self.n})" if self.n else ""), self.construction]
        if self.profile != "none":
            parts.append(f"{self.profile} profile")
        if self.onion:
            parts.append("onion shell")
        return ", ".join(parts)


PRIMITIVES: Registry[PrimitiveClass] = Registry("primitive class")


def _add(
    name: str, family: str, section: str, construction: str, ranges: dict[str, Range], **kw: object
) -> None:
    PRIMITIVES.add(name, PrimitiveClass(name, family, section, construction, ranges=ranges, **kw))  # type: ignore[arg-type]


def _prism_ranges(profile: str, onion: bool) -> dict[str, Range]:
    r = {**PRISM_RANGES, **PROFILE_RANGES[profile]}
    return {**r, **ONION_RANGES} if onion else r


def _build_table() -> None:
    # basic: 8
    _add("sphere", "basic", "circle", "revolution", {"radius": (0.15, 0.40)})
    _add(
        "torus",
        "basic",
        "circle",
        "revolution",
        {"major_radius": (0.15, 0.40), "minor_ratio": (0.3, 0.7)},
    )
    _add(
        "cone", "basic", "triangle", "revolution", {"radius": (0.15, 0.40), "height": (0.10, 0.50)}
    )
    _add("octahedron", "basic", "octahedron", "solid", {"size": (0.15, 0.40)})
    for profile in PROFILES:
        name = "cylinder" if profile == "none" else f"cylinder_{profile}"
        _add(name, "basic", "circle", "prism", _prism_ranges(profile, False), profile=profile)
    # star revolution: 3
    for n in (3, 4, 5):
        _add(
            f"star_{n}_revolution",
            "star_revolution",
            "star",
            "revolution",
            {"radius": (0.15, 0.40), "star_w": (0.1, 0.7), "offset_ratio": (0.0, 0.5)},
            n=n,
        )
    # prisms: polygon 3..9 and star 5..8, four profiles, solid then onion (7*4*2 + 4*4*2 = 88)
    for onion in (False, True):
        for section, counts in (("polygon", range(3, 10)), ("star", range(5, 9))):
            for profile in PROFILES:
                for n in counts:
                    suffix = ("" if profile == "none" else f"_{profile}") + (
                        "_onion" if onion else ""
                    )
                    _add(
                        f"{section}_{n}_prism{suffix}",
                        f"{section}_prism{suffix}",
                        section,
                        "prism",
                        _prism_ranges(profile, onion),
                        n=n,
                        profile=profile,
                        onion=onion,
                    )
    # tori with polygon (4..9) and star (5..8) tubes: 10
    for n in range(4, 10):
        _add(f"polygon_{n}_torus", "polygon_torus", "polygon", "revolution", dict(TUBE_RANGES), n=n)
    for n in range(5, 9):
        _add(
            f"star_{n}_torus",
            "star_torus",
            "star",
            "revolution",
            {**TUBE_RANGES, "star_w": (0.1, 0.7)},
            n=n,
        )
    # PrimGeoSeg's ellipse pillars (not part of FDIF's 109)
    for profile in PROFILES:
        suffix = "" if profile == "none" else f"_{profile}"
        ranges = {**_prism_ranges(profile, False), "aspect": (0.5, 1.0)}
        _add(
            f"ellipse_prism{suffix}",
            f"ellipse_prism{suffix}",
            "ellipse",
            "prism",
            ranges,
            profile=profile,
            library="primgeoseg",
        )


_build_table()

FDIF_CLASSES: list[str] = [n for n, c in PRIMITIVES.items() if c.library == "fdif"]
assert len(FDIF_CLASSES) == 109, len(FDIF_CLASSES)


# --------------------------------------------------------------------------- sampling
def _u(gen: torch.Generator, rng: Range) -> float:
    lo, hi = rng
    return lo + (hi - lo) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _polygon_vertices(
    gen: torch.Generator, n: int, r: Range, reject_slivers: bool
) -> list[list[float]]:
    """Irregular n-gon: one vertex per angular sector, radius uniform in ``r``.

    ``reject_slivers`` (exact geometry): draws whose area is under ``MIN_AREA_RATIO`` of the
    regular n-gon of the same mean radius (slivers that would vanish once hollowed) are
    drawn again, up to 16 times. The authors keep every draw.
    """
    lo, hi = r
    for _ in range(16 if reject_slivers else 1):
        verts = []
        # 2n draws at once (angle, radius per vertex): the stream of 2n single draws
        v = torch.rand(2 * n, generator=gen, dtype=torch.float64).tolist()
        for i in range(n):
            a = 2.0 * math.pi * (i + v[2 * i]) / n  # _u(gen, (0, 1)) is the draw itself
            rad = lo + (hi - lo) * v[2 * i + 1]
            verts.append([rad * math.cos(a), rad * math.sin(a)])
        mean_r = sum(math.hypot(x, y) for x, y in verts) / n
        regular = 0.5 * n * mean_r**2 * math.sin(2.0 * math.pi / n)
        if _area(verts) >= MIN_AREA_RATIO * regular:
            break
    return verts


def _area(verts: list[list[float]]) -> float:
    """Shoelace area of a polygon."""
    return 0.5 * abs(
        sum(
            x0 * y1 - x1 * y0
            for (x0, y0), (x1, y1) in zip(verts, verts[1:] + verts[:1], strict=True)
        )
    )


def sample_params(
    cls: PrimitiveClass,
    gen: torch.Generator,
    grid: float,
    ranges: dict[str, Range] | None = None,
    geometry: str = "exact",
    pose: Pose | None = None,
    lattice: list[torch.Tensor] | None = None,
) -> Params:
    """Draw concrete parameters (lengths in voxels of a grid of edge ``grid``) for ``cls``.

    ``geometry`` (``authors`` or ``exact``) is stored in the parameters and decides how
    they are evaluated. An authors' onion's thickness depends on the object's ``pose`` and
    on the reference grid (``lattice``; default: the identity and the authors' grid of edge
    ``grid``), see :func:`authors_thickness`.
    """
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry {geometry!r}; allowed: {', '.join(GEOMETRIES)}")
    rg = {**cls.ranges, **(ranges or {})}
    p: Params = {"geometry": geometry}
    if cls.section == "octahedron":
        p["size"] = _u(gen, rg["size"]) * grid
    elif cls.name == "sphere":
        p["radius"] = _u(gen, rg["radius"]) * grid
    elif cls.name == "cone":
        p["radius"] = _u(gen, rg["radius"]) * grid
        p["height"] = _u(gen, rg["height"]) * grid
    elif cls.torus:
        big = _u(gen, rg["major_radius"]) * grid
        small = _u(gen, rg["minor_ratio"]) * big
        p["offset"] = big
        _section_params(cls, gen, p, rg, small, (TUBE_VERTEX_MIN * grid, small))
    elif cls.construction == "revolution":  # star revolution
        r = _u(gen, rg["radius"]) * grid
        _section_params(cls, gen, p, rg, r)
        p["offset"] = _u(gen, rg["offset_ratio"]) * r
    else:  # prisms: polygon vertex radii between two independent draws
        p["half_height"] = _u(gen, rg["half_height"]) * grid
        r1, r2 = _u(gen, rg["radius"]) * grid, _u(gen, rg["radius"]) * grid
        _section_params(cls, gen, p, rg, r1, (min(r1, r2), max(r1, r2)))
        _profile_params(cls, gen, p, rg)
    if cls.onion:
        p["onion_ratio"] = _u(gen, rg["onion_ratio"])
        if geometry == "authors":
            p["thickness"] = authors_thickness(
                cls, p, pose, lattice or authors_lattice(round(grid))
            )
        else:
            p["thickness"] = max(p["onion_ratio"] * depth(cls, p), MIN_SHELL)  # type: ignore[operator]
    return p


def _section_params(
    cls: PrimitiveClass,
    gen: torch.Generator,
    p: Params,
    rg: dict[str, Range],
    r: float,
    polygon_range: Range | None = None,
) -> None:
    if cls.section == "polygon":
        exact = p["geometry"] == "exact"
        p["vertices"] = _polygon_vertices(gen, cls.n, polygon_range or (0.5 * r, r), exact)
    elif cls.section == "star":
        p["radius"] = r
        p["star_w"] = _u(gen, rg["star_w"])
        p["star_ratio"] = sections.star_inner_ratio(cls.n, p["star_w"])
    elif cls.section == "ellipse":
        p["radii"] = [r, r * _u(gen, rg["aspect"])]
    else:  # circle
        p["radius"] = r


def _profile_params(
    cls: PrimitiveClass, gen: torch.Generator, p: Params, rg: dict[str, Range]
) -> None:
    h = float(p["half_height"])  # type: ignore[arg-type]
    if cls.profile == "none":
        return
    if cls.profile == "cone":  # linear from 1 at -h to the end scale at +h
        end = _u(gen, rg["end_scale"])
        p["knots"], p["neck"] = [1.0, 0.5 * (1.0 + end), end], 0.0
    else:  # 1 at both ends, the peak or neck scale at the neck, 2h U(-0.7, 0.7)
        key = "peak_scale" if cls.profile == "convex" else "neck_scale"
        p["knots"] = [1.0, _u(gen, rg[key]), 1.0]
        p["neck"] = _u(gen, rg["neck"]) * 2.0 * h
    p["lipschitz"] = ops.profile_lipschitz(
        tuple(p["knots"]), float(p["neck"]), h, section_extent(cls, p)
    )  # type: ignore[arg-type]


def authors_thickness(
    cls: PrimitiveClass, p: Params, pose: Pose | None, lattice: list[torch.Tensor]
) -> float:
    """The authors' onion thickness: ratio x |min of the section field over the whole grid|.

    The section field (scaled by the unclamped profile) is taken at every voxel of the
    reference grid (world coordinates per axis: ``lattice``), mapped into object space by
    ``pose`` (identity: None). The minimum is exact (``grid.lattice_minimum``), with
    per-block bounds from the profile's slope and scale over the block's axial range.
    """
    pose = pose or Pose.identity()

    last: list[torch.Tensor] = []  # (points, their object-space z) of the latest pass

    def fn(x: torch.Tensor) -> torch.Tensor:
        local = pose.to_object(x)
        last[:] = [x, local[:, 2]]
        return authors_section(cls, p, local)

    if "knots" in p:  # the section's depth once per object, not once per pass
        bound = partial(_profiled_bound, cls, p, pose, section_depth_bound(cls, p), last)
    else:
        bound = pose.lipschitz
    low = lattice_minimum(fn, bound, lattice)
    return float(p["onion_ratio"]) * abs(low)  # type: ignore[arg-type]


def _profiled_bound(
    cls: PrimitiveClass,
    p: Params,
    pose: Pose,
    depth: float,
    last: list[torch.Tensor],
    pts: torch.Tensor,
    vals: torch.Tensor,
    half: list[float],
) -> torch.Tensor:
    """Lower bounds of s(z) d(q / s(z)) over blocks (centres ``pts``, per-axis half-widths).

    Two bounds, the larger wins: the value at the centre minus the Lipschitz constant of
    the profile pieces that meet the block's axial range times the block radius; and
    -max s x ``depth`` (of the section, :func:`section_depth_bound`), since d >= -depth.
    ``last``: (points, object-space z) the field was just evaluated at, reused when they
    are ``pts``.
    """
    knots, neck = tuple(p["knots"]), float(p["neck"])  # type: ignore[arg-type]
    h = float(p["half_height"])  # type: ignore[arg-type]
    zc = last[1] if last and last[0] is pts else pose.object_axis(pts, 2)  # fn's, if it has it
    zr = sum(abs(pose.inverse[2][i]) * half[i] for i in range(3))
    lo, hi = zc - zr, zc + zr
    low, up = ops.piece_slopes(knots, neck, h)  # type: ignore[arg-type]
    slope = torch.where(lo < neck, low, 0.0).maximum(torch.where(hi >= neck, up, 0.0))
    lip = torch.sqrt(1.0 + (slope * section_extent(cls, p)) ** 2) * pose.lipschitz
    by_slope = vals - lip * math.sqrt(sum(x * x for x in half))
    zs = torch.stack([lo, hi, torch.clamp(torch.full_like(lo, neck), lo, hi)])
    smax = ops.profile_scale(zs, knots, neck, h, clamp=False).amax(0).clamp_min(1e-6)  # type: ignore[arg-type]
    return torch.maximum(by_slope, -smax * depth)


def section_depth_bound(cls: PrimitiveClass, p: Params, n: int = 32) -> float:
    """An upper bound of the section's depth -min d: the minimum on an n x n lattice over
    the section's box, plus the farthest any point lies from that lattice (d is 1-Lipschitz).
    It only prunes ``lattice_minimum``'s blocks (the minimum is exact whatever its value):
    32 x 32 points cost a quarter of 64 x 64; the slack grows from 0.022 r to 0.046 r."""
    r = section_extent(cls, p)
    ax = torch.linspace(-r, r, n)
    q = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    low = float(section_fn(cls, p)(q).min())
    return max(0.0, -low) + (2.0 * r / (n - 1)) / math.sqrt(2.0)


def authors_lattice(grid: int) -> list[torch.Tensor]:
    """The authors' grid coordinates, -G/2 .. G/2 - 1, on each axis of a cube of edge G."""
    return [torch.arange(grid, dtype=torch.float32) - grid / 2.0 for _ in range(3)]


__all__ = [
    "FDIF_CLASSES",
    "GEOMETRIES",
    "PRIMITIVES",
    "PrimitiveClass",
    "authors_thickness",
    "depth",
    "evaluate",
    "evaluate_solid",
    "field_lipschitz",
    "field_slack",
    "half_extents",
    "reach_extents",
    "sample_params",
    "section_extent",
]
