"""The primitive library: 109 FDIF classes (plus PrimGeoSeg's ellipse prisms) as table rows.

A class is data (section, vertex count, construction, profile, onion) named by one grammar,
``<section>[_<n>]_<construction>[_<profile>][_onion]``; the basic solids keep their own names.
``sample_params`` draws concrete parameters, ``evaluate`` turns them into a field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import torch

from ..registry import Registry
from ..types import Field, Params, Points, Range
from . import ops, sections

PROFILES = ("none", "convex", "concave", "cone")

# Default sampling ranges. Lengths are fractions of the grid edge G; the rest are ratios.
PRISM_RANGES: dict[str, Range] = {
    "radius": (0.15, 0.40),
    "half_height": (0.10, 0.50),
    "star_ratio": (0.2, 0.7),
}
PROFILE_RANGES: dict[str, dict[str, Range]] = {
    "none": {},
    "convex": {"peak_scale": (2.0, 4.0), "neck": (-0.5, 0.5), "radius": (0.05, 0.20)},
    "concave": {"neck_scale": (0.2, 0.5), "neck": (-0.5, 0.5)},
    "cone": {"end_scale": (0.0, 1.6)},
}
ONION_RANGES: dict[str, Range] = {"onion_ratio": (0.2, 0.5)}
MIN_AREA_RATIO = 0.3
MIN_SHELL = 0.75  # voxels: the thinnest onion half-thickness, so that a shell stays visible


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
            {"radius": (0.15, 0.35), "star_ratio": (0.1, 0.7), "offset_ratio": (0.0, 1.0)},
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
    torus_ranges: dict[str, Range] = {"major_radius": (0.15, 0.40), "minor_ratio": (0.3, 0.7)}
    for n in range(4, 10):
        _add(
            f"polygon_{n}_torus", "polygon_torus", "polygon", "revolution", dict(torus_ranges), n=n
        )
    for n in range(5, 9):
        _add(
            f"star_{n}_torus",
            "star_torus",
            "star",
            "revolution",
            {**torus_ranges, "star_ratio": (0.2, 0.7)},
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


def _polygon_vertices(gen: torch.Generator, n: int, r: Range) -> list[list[float]]:
    """Irregular n-gon: one vertex per angular sector, radius uniform in ``r``.

    Draws whose area is under ``MIN_AREA_RATIO`` of the regular n-gon of the same mean
    radius (slivers that would be invisible once hollowed) are drawn again, up to 16 times.
    """
    for _ in range(16):
        verts = []
        for i in range(n):
            a = 2.0 * math.pi * (i + _u(gen, (0.0, 1.0))) / n
            rad = _u(gen, r)
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
    cls: PrimitiveClass, gen: torch.Generator, grid: float, ranges: dict[str, Range] | None = None
) -> Params:
    """Draw concrete parameters (lengths in voxels of a grid of edge ``grid``) for ``cls``."""
    rg = {**cls.ranges, **(ranges or {})}
    p: Params = {}
    if cls.section == "octahedron":
        p["size"] = _u(gen, rg["size"]) * grid
    elif cls.name == "sphere":
        p["radius"] = _u(gen, rg["radius"]) * grid
    elif cls.name == "cone":
        p["radius"] = _u(gen, rg["radius"]) * grid
        p["height"] = _u(gen, rg["height"]) * grid
    elif cls.construction == "revolution" and "major_radius" in rg:  # tori
        big = _u(gen, rg["major_radius"]) * grid
        small = _u(gen, rg["minor_ratio"]) * big
        p["offset"] = big
        _section_params(cls, gen, p, rg, small)
    elif cls.construction == "revolution":  # star revolution
        r = _u(gen, rg["radius"]) * grid
        _section_params(cls, gen, p, rg, r)
        p["offset"] = _u(gen, rg["offset_ratio"]) * r
    else:  # prisms
        r_hi = _u(gen, rg["radius"])  # fraction of G; vertices spread from the range's low end
        p["half_height"] = _u(gen, rg["half_height"]) * grid
        _section_params(
            cls, gen, p, rg, r_hi * grid, polygon_range=(rg["radius"][0] * grid, r_hi * grid)
        )
        _profile_params(cls, gen, p, rg)
    if cls.onion:
        p["onion_ratio"] = _u(gen, rg["onion_ratio"])
        p["thickness"] = max(p["onion_ratio"] * depth(cls, p), MIN_SHELL)
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
        p["vertices"] = _polygon_vertices(gen, cls.n, polygon_range or (0.5 * r, r))
    elif cls.section == "star":
        p["radius"] = r
        p["star_ratio"] = _u(gen, rg["star_ratio"])
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
    if cls.profile == "cone":
        end = _u(gen, rg["end_scale"])
        p["knots"], p["neck"] = [1.0, 0.5 * (1.0 + end), end], 0.0
    else:
        key = "peak_scale" if cls.profile == "convex" else "neck_scale"
        p["knots"] = [1.0, _u(gen, rg[key]), 1.0]
        p["neck"] = _u(gen, rg["neck"]) * h
    p["lipschitz"] = ops.profile_lipschitz(
        tuple(p["knots"]), float(p["neck"]), h, section_extent(cls, p)
    )  # type: ignore[arg-type]


# --------------------------------------------------------------------------- evaluation
def section_extent(cls: PrimitiveClass, p: Params) -> float:
    """Largest distance of the (unscaled) section boundary from its centre."""
    if cls.section == "polygon":
        return max(math.hypot(x, y) for x, y in p["vertices"])  # type: ignore[union-attr]
    if cls.section == "ellipse":
        return max(p["radii"])  # type: ignore[arg-type]
    if cls.section == "triangle":
        return math.hypot(float(p["radius"]), 0.5 * float(p["height"]))  # type: ignore[arg-type]
    return float(p["radius"])  # type: ignore[arg-type]


def _section_fn(cls: PrimitiveClass, p: Params):  # -> ops.Section
    if cls.section == "polygon":
        return partial(sections.polygon, vertices=p["vertices"])
    if cls.section == "star":
        return partial(
            sections.star, n=cls.n, radius=float(p["radius"]), ratio=float(p["star_ratio"])
        )  # type: ignore[arg-type]
    if cls.section == "ellipse":
        return partial(sections.ellipse, radii=tuple(p["radii"]))  # type: ignore[arg-type]
    if cls.section == "triangle":
        r, hh = float(p["radius"]), 0.5 * float(p["height"])  # type: ignore[arg-type]
        return partial(sections.polygon, vertices=[[-r, -hh], [r, -hh], [0.0, hh]])
    return partial(sections.circle, radius=float(p["radius"]))  # type: ignore[arg-type]


def evaluate_solid(cls: PrimitiveClass, p: Params, pts: Points) -> Field:
    """The class's field before the onion shell."""
    if cls.section == "octahedron":
        return ops.octahedron(pts, float(p["size"]))  # type: ignore[arg-type]
    section = _section_fn(cls, p)
    if cls.construction == "revolution":
        return ops.revolve(section, pts, float(p.get("offset", 0.0)))  # type: ignore[arg-type]
    h = float(p["half_height"])  # type: ignore[arg-type]
    if cls.profile == "none":
        return ops.extrude(section(pts[:, :2]), pts[:, 2], h)
    return ops.profiled_extrude(
        section, pts, h, tuple(p["knots"]), float(p["neck"]), float(p["lipschitz"])
    )  # type: ignore[arg-type]


def evaluate(cls: PrimitiveClass, p: Params, pts: Points) -> Field:
    """Signed distance (exact or a conservative bound) of ``cls`` with params ``p`` at ``pts``."""
    d = evaluate_solid(cls, p, pts)
    return ops.onion(d, float(p["thickness"])) if cls.onion else d  # type: ignore[arg-type]


def half_extents(cls: PrimitiveClass, p: Params) -> tuple[float, float, float]:
    """Object-space box (centred) that contains the object."""
    if cls.section == "octahedron":
        s = float(p["size"])  # type: ignore[arg-type]
        ext = (s, s, s)
    elif cls.construction == "revolution":
        r = section_extent(cls, p)
        off = float(p.get("offset", 0.0))  # type: ignore[arg-type]
        ext = (off + r, off + r, r)
    else:
        scale = max(p.get("knots", [1.0]))  # type: ignore[arg-type]
        r = section_extent(cls, p) * scale
        ext = (r, r, float(p["half_height"]))  # type: ignore[arg-type]
    t = float(p.get("thickness", 0.0))  # type: ignore[arg-type]
    return (ext[0] + t, ext[1] + t, ext[2] + t)


def field_slack(cls: PrimitiveClass, p: Params) -> float:
    """How much farther than its value a bound field's level sets can lie (1 = exact SDF)."""
    slack = float(p.get("lipschitz", 1.0))  # type: ignore[arg-type]
    if cls.section == "ellipse":
        slack *= max(p["radii"]) / min(p["radii"])  # type: ignore[arg-type]
    return slack


def depth(cls: PrimitiveClass, p: Params) -> float:
    """Depth of the deepest interior point, |min d| (estimated on a 32^3 object-space grid)."""
    ext = half_extents(cls, {k: v for k, v in p.items() if k != "thickness"})
    axes = [torch.linspace(-e, e, 32) for e in ext]
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    return float(-evaluate_solid(cls, p, pts).min().clamp(max=0.0))
