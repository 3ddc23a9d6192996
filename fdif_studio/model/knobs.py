"""Shape knobs: user-facing controls of a primitive class and their engine parameters.

Lengths are fractions of the grid edge G; defaults sit in the middle of the class's
sampling ranges, so a fresh design looks like a typical dataset object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from fdif_core.engine.params import SHAPE_PARAMS, Param
from fdif_core.engine.sdf import ops, sections
from fdif_core.engine.sdf.library import (
    PrimitiveClass,
    authors_lattice,
    authors_thickness,
    depth,
    section_extent,
)
from fdif_core.engine.types import Params


@dataclass(frozen=True)
class Knob:
    """One user-facing shape control: lengths are fractions of the grid edge G."""

    name: str
    label: str
    lo: float
    hi: float
    default: float
    step: float = 0.01
    integer: bool = False
    tip: str = ""


LABELS = {  # display text where it differs from the parameter name
    "minor_ratio": "minor / major",
    "offset_ratio": "axis offset",
    "neck": "neck position",
    "shape_seed": "vertex seed",
}
STUDIO_ONLY: dict[str, Knob] = {  # design controls that are not engine parameters
    k.name: k
    for k in (
        Knob("irregularity", "irregularity", 0.0, 1.0, 0.5, tip="0 = regular n-gon"),
        Knob("shape_seed", "vertex seed", 0, 999, 0, step=1, integer=True, tip="n-gon draw"),
    )
}
POLYGON_KNOBS = ("irregularity", "shape_seed")  # a polygon section's vertices, drawn by hand


def _knob(p: Param) -> Knob:
    """The editor of an engine shape parameter: its window, step and description."""
    lo, hi, step = p.view
    tip = f"{p.doc}, {p.unit}" if p.unit else p.doc
    label = LABELS.get(p.name, p.name.replace("_", " "))
    return Knob(p.name, label, lo, hi, round(0.5 * (lo + hi), 4), step=step, tip=tip)


KNOBS: dict[str, Knob] = {
    **{name: _knob(p) for name, p in SHAPE_PARAMS.items()},
    **STUDIO_ONLY,
}


def knob_names(cls: PrimitiveClass) -> list[str]:
    """The shape knobs of a class, in display order: the engine's parameters of the class
    (``PrimitiveClass.params``), a polygon section's vertex controls after its size."""
    names = list(cls.params)
    if cls.section == "polygon":
        at = names.index("minor_ratio" if "minor_ratio" in names else "radius") + 1
        at += cls.construction == "prism"  # after the half height
        names[at:at] = POLYGON_KNOBS
    return names


def knobs_for(cls: PrimitiveClass) -> list[Knob]:
    """Knobs of ``cls`` with defaults at the middle of the class's sampling ranges."""
    out = []
    for name in knob_names(cls):
        k = KNOBS[name]
        rng = cls.ranges.get(name)
        if rng is not None:
            k = replace(k, default=round(0.5 * (rng[0] + rng[1]), 4))
        out.append(k)
    return out


def polygon_vertices(n: int, radius: float, irregularity: float, seed: int) -> list[list[float]]:
    """Deterministic irregular n-gon: one vertex per angular sector, radius in [r(1-irr/2), r]."""
    gen = torch.Generator().manual_seed(int(seed))
    u = torch.rand((n, 2), generator=gen, dtype=torch.float64).tolist()
    verts = []
    for i, (ua, ur) in enumerate(u):
        a = 2.0 * math.pi * (i + 0.5 + irregularity * (ua - 0.5)) / n
        r = radius * (1.0 - 0.5 * irregularity * ur)
        verts.append([r * math.cos(a), r * math.sin(a)])
    return verts


def build_params(
    cls: PrimitiveClass, knobs: dict[str, float], grid: float, geometry: str = "exact"
) -> Params:
    """Engine parameters (voxels of a grid of edge ``grid``) from knob values."""
    v = {k.name: k.default for k in knobs_for(cls)} | dict(knobs)
    p: Params = {"geometry": geometry}

    def section(r: float) -> None:
        if cls.section == "polygon":
            p["vertices"] = polygon_vertices(cls.n, r, v["irregularity"], int(v["shape_seed"]))
        elif cls.section == "star":
            p["radius"], p["star_w"] = r, v["star_w"]
            p["star_ratio"] = sections.star_inner_ratio(cls.n, v["star_w"])
        elif cls.section == "ellipse":
            p["radii"] = [r, r * v["aspect"]]
        else:
            p["radius"] = r

    if cls.section == "octahedron":
        p["size"] = v["size"] * grid
    elif cls.name == "sphere":
        p["radius"] = v["radius"] * grid
    elif cls.name == "cone":
        p["radius"], p["height"] = v["radius"] * grid, v["height"] * grid
    elif cls.torus:
        big = v["major_radius"] * grid
        p["offset"] = big
        section(v["minor_ratio"] * big)
    elif cls.construction == "revolution":
        r = v["radius"] * grid
        section(r)
        p["offset"] = v["offset_ratio"] * r
    else:
        h = v["half_height"] * grid
        p["half_height"] = h
        section(v["radius"] * grid)
        if cls.profile != "none":
            if cls.profile == "cone":
                end = v["end_scale"]
                p["knots"], p["neck"] = [1.0, 0.5 * (1.0 + end), end], 0.0
            else:
                mid = v["peak_scale"] if cls.profile == "convex" else v["neck_scale"]
                p["knots"], p["neck"] = [1.0, mid, 1.0], v["neck"] * 2.0 * h
            p["lipschitz"] = ops.profile_lipschitz(
                tuple(p["knots"]),  # type: ignore[arg-type]
                float(p["neck"]),  # type: ignore[arg-type]
                h,
                section_extent(cls, p),
            )
    if cls.onion:
        p["onion_ratio"] = v["onion_ratio"]
        if geometry == "authors":  # the authors' rule, for the centred, unrotated object
            p["thickness"] = authors_thickness(cls, p, None, authors_lattice(round(grid)))
        else:
            p["thickness"] = v["onion_ratio"] * depth(cls, p)
    return p
