"""Qt-free models behind the studio widgets.

``DesignState`` holds one primitive being designed (class, shape knobs, pose, displacement,
mapper) and turns it into engine objects (a one-class ``Preset``, a ``Recipe`` and an
``ObjectSpec``), so every preview is rendered by the same engine code as the datasets.
``PresetDraft`` is the preset being edited (classes, instances, volume, labels); it writes
and reads ``fdif_core`` presets. ``Session`` ties both to one viewer.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from fdif_core.engine.compose import ObjectSpec, Recipe, Sample
from fdif_core.engine.pose import Pose
from fdif_core.engine.registry import suggest
from fdif_core.engine.sdf import ops, sections
from fdif_core.engine.sdf.library import (
    FDIF_CLASSES,
    PRIMITIVES,
    PrimitiveClass,
    authors_lattice,
    authors_thickness,
    depth,
    section_extent,
)
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M
from fdif_core.engine.types import Params
from fdif_core.io.atomic import atomic_path
from fdif_core.presets.preset import (
    InstanceSpec,
    Preset,
    PresetError,
    load_preset,
    parse_preset,
)

NONE = "none"
"""Displacement family name meaning "no displacement"."""


# --------------------------------------------------------------------------- shape knobs
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


KNOBS: dict[str, Knob] = {
    k.name: k
    for k in (
        Knob("radius", "radius", 0.02, 0.5, 0.25, tip="section / solid radius, fraction of G"),
        Knob("half_height", "half height", 0.02, 0.5, 0.25, tip="prism half height, fraction of G"),
        Knob("height", "height", 0.02, 0.8, 0.3, tip="cone height, fraction of G"),
        Knob("size", "size", 0.02, 0.5, 0.25, tip="octahedron |x|+|y|+|z|, fraction of G"),
        Knob("major_radius", "major radius", 0.05, 0.45, 0.25, tip="torus ring, fraction of G"),
        Knob("minor_ratio", "minor / major", 0.05, 0.95, 0.5, tip="tube radius / ring radius"),
        Knob("star_w", "star w", 0.0, 1.0, 0.45, tip="classic star w: 0 = spikes, 1 = n-gon"),
        Knob("offset_ratio", "axis offset", 0.0, 1.5, 0.5, tip="revolution offset / radius"),
        Knob("aspect", "aspect", 0.1, 1.0, 0.75, tip="ellipse minor / major radius"),
        Knob("irregularity", "irregularity", 0.0, 1.0, 0.5, tip="0 = regular n-gon"),
        Knob("shape_seed", "vertex seed", 0, 999, 0, step=1, integer=True, tip="n-gon draw"),
        Knob("peak_scale", "peak scale", 1.0, 5.0, 3.0, tip="barrel: section scale at the neck"),
        Knob("neck_scale", "neck scale", 0.05, 1.0, 0.35, tip="waist: section scale at the neck"),
        Knob("neck", "neck position", -0.7, 0.7, 0.0, tip="neck height / full height"),
        Knob("end_scale", "end scale", 0.0, 2.0, 0.8, tip="cone profile: scale at the far end"),
        Knob("onion_ratio", "onion ratio", 0.05, 0.9, 0.35, tip="shell thickness / depth"),
    )
}


def _section_knobs(cls: PrimitiveClass) -> list[str]:
    return {
        "polygon": ["irregularity", "shape_seed"],
        "star": ["star_w"],
        "ellipse": ["aspect"],
    }.get(cls.section, [])


def _profile_knobs(cls: PrimitiveClass) -> list[str]:
    return {
        "convex": ["peak_scale", "neck"],
        "concave": ["neck_scale", "neck"],
        "cone": ["end_scale"],
    }.get(cls.profile, [])


def knob_names(cls: PrimitiveClass) -> list[str]:
    """The shape knobs of a class, in display order."""
    if cls.section == "octahedron":
        names = ["size"]
    elif cls.name == "sphere":
        names = ["radius"]
    elif cls.name == "cone":
        names = ["radius", "height"]
    elif cls.construction == "revolution" and "major_radius" in cls.ranges:
        names = ["major_radius", "minor_ratio", *_section_knobs(cls)]
    elif cls.construction == "revolution":
        names = ["radius", *_section_knobs(cls), "offset_ratio"]
    else:
        names = ["radius", "half_height", *_section_knobs(cls), *_profile_knobs(cls)]
    return [*names, "onion_ratio"] if cls.onion else names


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
    elif cls.construction == "revolution" and "major_radius" in cls.ranges:
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


# --------------------------------------------------------------------------- texture params
PARAM_BOUNDS: dict[str, tuple[float, float, float]] = {
    # name: (low, high, step) for the widgets; the model checks the same bounds
    "amplitude": (-0.5, 0.5, 0.005),
    "frequency": (0.0, 200.0, 1.0),
    "octaves": (1, 8, 1),
    "persistence": (0.0, 1.0, 0.05),
    "seed": (0, 9999, 1),
    "axis": (0, 2, 1),
    "base": (1.0001, 10.0, 0.1),
    "slope": (0.0, 200.0, 1.0),
    "width": (0.05, 20.0, 0.05),
    "step": (0.0, 128.0, 1.0),
    "peak": (0.0, 255.0, 1.0),
    "modulus": (2, 64, 1),
    "wavelength": (0.1, 50.0, 0.1),
    "value": (0.0, 255.0, 1.0),
}
INTEGER_PARAMS = {"octaves", "seed", "axis", "modulus"}


def check_texture_params(kind: str, family: str, params: dict[str, float]) -> dict[str, float]:
    """Validate ``params`` of a displacement or mapper family; return them as floats.

    Raises:
        ValueError: a name the family does not take, or a value that is not finite or lies
            outside ``PARAM_BOUNDS``; the message names the parameter and what is allowed.
    """
    families = D.FAMILIES if kind == "displacement" else M.FAMILIES
    if family not in families:
        raise ValueError(suggest(family, families.names, f"{kind} family"))
    (D.check_params if kind == "displacement" else M.check_params)(family, params)
    out = {}
    for name, value in params.items():
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{kind} {family}: {name} must be a number, got {value!r}") from None
        lo, hi, _ = PARAM_BOUNDS.get(name, (-math.inf, math.inf, 0.0))
        if not math.isfinite(x) or not lo <= x <= hi:
            raise ValueError(f"{kind} {family}: {name} = {value!r} is outside [{lo}, {hi}]")
        out[name] = float(round(x)) if name in INTEGER_PARAMS else x
    return out


def check_instance_name(name: str) -> str:
    """A usable instance name: non-empty, one line, no surrounding spaces."""
    name = str(name).strip()
    if not name or any(c in name for c in "\n\r\t:#,[]{}"):
        raise ValueError(f"instance name {name!r}: use letters, digits, '_', '.', '-'")
    return name


# --------------------------------------------------------------------------- design state
@dataclass(frozen=True)
class DesignRequest:
    """A snapshot of the design to render: immutable, safe to hand to a worker thread."""

    recipe: Recipe
    obj: ObjectSpec
    shape: tuple[int, int, int]
    device: str
    version: int
    surface: bool = True  # also extract the isosurface


@dataclass
class DesignState:
    """One primitive being designed: class, knobs, pose, displacement and mapper.

    Lengths of knobs and translation are fractions of the reference grid edge ``grid``;
    angles are degrees. ``version`` counts changes (the widgets drop stale renders).
    """

    primitive: str = "sphere"
    knobs: dict[str, float] = field(default_factory=dict)
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angles_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shear: tuple[float, float, float] = (0.0, 0.0, 0.0)
    displacement: str = NONE
    displacement_params: dict[str, float] = field(default_factory=dict)
    space: str = "object"
    mapper: str = "linear"
    mapper_params: dict[str, float] = field(default_factory=lambda: {"slope": 10.0})
    grid: int = 96
    version: int = 0

    def __post_init__(self) -> None:
        self.set_primitive(self.primitive, keep=True)

    # ---- edits (each validates and bumps the version)
    @property
    def cls(self) -> PrimitiveClass:
        return PRIMITIVES.get(self.primitive)

    def knob_list(self) -> list[Knob]:
        return knobs_for(self.cls)

    def set_primitive(self, name: str, keep: bool = False) -> None:
        """Switch class; knobs reset to the class defaults (``keep``: keep shared values)."""
        cls = PRIMITIVES.get(name)
        old = self.knobs
        self.primitive = name
        self.knobs = {
            k.name: (old.get(k.name, k.default) if keep else k.default) for k in knobs_for(cls)
        }
        self.version += 1

    def vertex_counts(self) -> list[int]:
        """Vertex (or star point) counts offered by this class's family; [] if none."""
        fam = self.cls.family
        counts = sorted({c.n for _, c in PRIMITIVES.items() if c.family == fam and c.n})
        return counts if len(counts) > 1 else []

    def set_vertex_count(self, n: int) -> None:
        """Switch to the sibling class with ``n`` vertices (star points), keeping the knobs."""
        fam = self.cls.family
        hit = [name for name, c in PRIMITIVES.items() if c.family == fam and c.n == int(n)]
        if not hit:
            allowed = ", ".join(map(str, self.vertex_counts())) or "none (fixed shape)"
            raise ValueError(f"{fam}: no class with {n} vertices; allowed: {allowed}")
        self.set_primitive(hit[0], keep=True)

    def set_knob(self, name: str, value: float) -> None:
        knob = next((k for k in self.knob_list() if k.name == name), None)
        if knob is None:
            allowed = ", ".join(k.name for k in self.knob_list())
            raise ValueError(
                f"{self.primitive} has no shape parameter {name!r}; allowed: {allowed}"
            )
        x = float(value)
        if not math.isfinite(x) or not knob.lo <= x <= knob.hi:
            raise ValueError(f"{knob.label} = {value!r} is outside [{knob.lo}, {knob.hi}]")
        self.knobs[name] = float(round(x)) if knob.integer else x
        self.version += 1

    def set_pose(
        self,
        translation: tuple[float, float, float] | None = None,
        angles_deg: tuple[float, float, float] | None = None,
        shear: tuple[float, float, float] | None = None,
    ) -> None:
        """Translation (fraction of G, |t| <= 0.6), angles (degrees), shear (|s| <= 0.5)."""
        new = {}
        for what, vals, lim in (
            ("translation", translation, 0.6),
            ("angles_deg", angles_deg, 360.0),
            ("shear", shear, 0.5),
        ):
            if vals is None:
                continue
            try:
                vals = tuple(float(x) for x in vals)
            except (TypeError, ValueError):
                raise ValueError(f"{what} {vals!r}: three numbers within ±{lim}") from None
            if len(vals) != 3 or not all(math.isfinite(x) and abs(x) <= lim for x in vals):
                raise ValueError(f"{what} {vals!r}: three numbers within ±{lim}")
            new[what] = vals
        for what, vals in new.items():  # all checked first: nothing half-applied
            setattr(self, what, vals)
        self.version += 1

    def set_displacement(
        self, family: str, params: dict[str, float] | None = None, space: str | None = None
    ) -> None:
        """Family ``"none"`` or a displacement family; missing params take family defaults."""
        if space is not None:
            if space not in ("object", "world"):
                raise ValueError(f"displacement space {space!r}; allowed: object, world")
            self.space = space
        if family == NONE:
            self.displacement, self.displacement_params = NONE, {}
        else:
            fam = D.FAMILIES.get(family) if family in D.FAMILIES else None
            if fam is None:
                raise ValueError(suggest(family, [NONE, *D.FAMILIES.names], "displacement family"))
            full = {**fam.defaults, **(params or {})}
            self.displacement_params = check_texture_params("displacement", family, full)
            self.displacement = family
        self.version += 1

    def set_mapper(self, family: str, params: dict[str, float] | None = None) -> None:
        if family not in M.FAMILIES:
            raise ValueError(suggest(family, M.FAMILIES.names, "mapper family"))
        full = {**M.FAMILIES.get(family).defaults, **(params or {})}
        self.mapper_params = check_texture_params("mapper", family, full)
        self.mapper = family
        self.version += 1

    def load_instance(self, kind: str, name: str) -> None:
        """Start the displacement or mapper from a registered instance (a paper one)."""
        if kind == "displacement":
            inst = D.DISPLACEMENTS.get(name)
            self.set_displacement(inst.family, inst.resolved())
        else:
            inst = M.MAPPERS.get(name)
            self.set_mapper(inst.family, inst.resolved())

    # ---- engine objects
    def displacement_spec(self, name: str = "design") -> InstanceSpec | None:
        if self.displacement == NONE:
            return None
        return InstanceSpec(name=name, family=self.displacement, params=self.displacement_params)

    def mapper_spec(self, name: str = "design") -> InstanceSpec:
        return InstanceSpec(name=name, family=self.mapper, params=self.mapper_params)

    def preset(self) -> Preset:
        """A one-class, one-object preset on the reference grid holding this design."""
        disp = self.displacement_spec()
        data = {
            "name": f"design-{self.primitive}",
            "volume": {"shape": [self.grid] * 3},
            "objects": {"per_volume": 1},
            "classes": {"include": [self.primitive]},
            "displacements": {
                "space": self.space,
                "include_none": True,
                "enabled": [disp.model_dump()] if disp else [],
            },
            "mappers": {"enabled": [self.mapper_spec().model_dump()]},
        }
        return parse_preset(data, "design")

    def pose(self) -> Pose:
        t = tuple(x * self.grid for x in self.translation)
        a = tuple(math.radians(x) for x in self.angles_deg)
        return Pose.build(t, a, self.shear)  # type: ignore[arg-type]

    def object_spec(self) -> ObjectSpec:
        params = build_params(self.cls, self.knobs, float(self.grid))
        disp = -1 if self.displacement == NONE else 0
        return ObjectSpec(self.primitive, params, self.pose(), 0, disp)

    def request(self, resolution: int, device: str = "cpu") -> DesignRequest:
        """Snapshot for a render at ``resolution``³ on ``device``."""
        n = int(resolution)
        return DesignRequest(
            self.preset().recipe(), self.object_spec(), (n, n, n), device, self.version
        )

    def settings(self) -> dict[str, Any]:
        """Plain-data view of the design (for comparisons and display)."""
        return {
            "primitive": self.primitive,
            "knobs": dict(self.knobs),
            "translation": self.translation,
            "angles_deg": self.angles_deg,
            "shear": self.shear,
            "displacement": self.displacement,
            "displacement_params": dict(self.displacement_params),
            "space": self.space,
            "mapper": self.mapper,
            "mapper_params": dict(self.mapper_params),
        }


# --------------------------------------------------------------------------- preset draft
LABEL_MODES = ("augmentation", "classes", "multitask")


def families() -> dict[str, list[str]]:
    """Primitive classes grouped by family, in registry order (FDIF's 109, then others)."""
    out: dict[str, list[str]] = {}
    for name, cls in PRIMITIVES.items():
        out.setdefault(cls.family, []).append(name)
    return out


def compress_classes(names: list[str]) -> list[str]:
    """Short include list for ``names`` in their (label) order: ``all``, then any run of
    consecutive names that is a whole family becomes the family name."""
    names = list(names)
    if names == FDIF_CLASSES:
        return ["all"]
    fams = sorted(families().items(), key=lambda kv: -len(kv[1]))
    out: list[str] = []
    i = 0
    while i < len(names):
        for fam, members in fams:
            if len(members) > 1 and names[i : i + len(members)] == members:
                out.append(fam)
                i += len(members)
                break
        else:
            out.append(names[i])
            i += 1
    return out


def merge_order(current: list[str], chosen: list[str]) -> list[str]:
    """Keep ``current``'s (label) order for names still chosen; append new ones in order."""
    keep = set(chosen)
    return [c for c in current if c in keep] + [c for c in chosen if c not in current]


def _spec_of(item: str | InstanceSpec) -> tuple[str, InstanceSpec | None]:
    return (item, None) if isinstance(item, str) else (item.name, item)


@dataclass
class TextureEntry:
    """A displacement or mapper in the draft: a registry name or a custom instance."""

    name: str
    spec: InstanceSpec | None = None  # None: a registered (paper) instance
    enabled: bool = True

    def item(self) -> str | InstanceSpec:
        return self.spec if self.spec is not None else self.name


@dataclass
class PresetDraft:
    """The preset being edited; unexposed settings of a loaded preset are kept as they were."""

    base: Preset = field(default_factory=lambda: load_preset("quickstart"))
    classes: list[str] = field(default_factory=list)
    displacements: list[TextureEntry] = field(default_factory=list)
    mappers: list[TextureEntry] = field(default_factory=list)
    space: str = "object"
    include_none: bool = True
    name: str = "quickstart"
    seed: int = 0
    shape: tuple[int, int, int] = (48, 48, 48)
    per_volume: int = 6
    label_mode: str = "augmentation"
    ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.load(self.base)

    def load(self, preset: Preset) -> None:
        """Take every editable setting from ``preset``."""
        self.base = preset
        self.classes = preset.classes.names()
        self.displacements = self._entries(preset.displacements.enabled, D.DISPLACEMENTS.names)
        self.mappers = self._entries(preset.mappers.enabled, M.MAPPERS.names)
        self.space = preset.displacements.space
        self.include_none = preset.displacements.include_none
        self.name, self.seed = preset.name, preset.seed
        self.shape = tuple(preset.volume.shape)  # type: ignore[assignment]
        self.per_volume = preset.objects.per_volume
        self.label_mode = preset.labels.mode
        self.ranges = {k: dict(v) for k, v in preset.classes.ranges.items()}

    @staticmethod
    def _entries(enabled: list, registered: list[str]) -> list[TextureEntry]:
        on = dict(_spec_of(x) for x in enabled)
        out = [TextureEntry(n, on.get(n), True) for n in on]
        out += [TextureEntry(n, None, False) for n in registered if n not in on]
        return out

    def load_file(self, path: str | Path) -> Preset:
        """Load a preset file or shipped name; raises ``PresetError`` with the reason."""
        preset = load_preset(path)
        self.load(preset)
        return preset

    def add_instance(self, kind: str, spec: InstanceSpec) -> None:
        """Add (or replace) a custom displacement or mapper instance, enabled."""
        check_instance_name(spec.name)
        entries = self.displacements if kind == "displacement" else self.mappers
        registry = D.DISPLACEMENTS if kind == "displacement" else M.MAPPERS
        for i, e in enumerate(entries):
            if e.name == spec.name:
                if e.spec is None:
                    raise ValueError(f"{spec.name!r} is a built-in {kind}; choose another name")
                entries[i] = TextureEntry(spec.name, spec, True)
                return
        if spec.name in registry:
            raise ValueError(f"{spec.name!r} is a built-in {kind}; choose another name")
        entries.insert(sum(e.enabled for e in entries), TextureEntry(spec.name, spec, True))

    def set_enabled(self, kind: str, name: str, on: bool) -> None:
        """Enable or disable an entry; enabled entries come first, in preset order."""
        entries = self.displacements if kind == "displacement" else self.mappers
        hit = next((e for e in entries if e.name == name), None)
        if hit is None:
            raise ValueError(suggest(name, [e.name for e in entries], kind))
        entries.remove(hit)
        hit.enabled = bool(on)
        entries.insert(sum(e.enabled for e in entries), hit)

    def add_design_class(self, design: DesignState, spread: float = 0.1) -> dict:
        """Enable the design's class and narrow its sampling ranges around the design.

        Each knob that is a sampling range of the class becomes ``value ± spread * (knob
        span) / 2`` (clipped to the knob's bounds), stored under the class name in
        ``classes.ranges``; returns those ranges.
        """
        if not 0.0 <= spread <= 1.0:
            raise ValueError(f"spread {spread}: use 0..1 (a fraction of each knob's span)")
        cls = design.cls
        out: dict[str, tuple[float, float]] = {}
        for k in design.knob_list():
            if k.name in cls.ranges:
                v, d = design.knobs[k.name], 0.5 * spread * (k.hi - k.lo)
                out[k.name] = (round(max(k.lo, v - d), 6), round(min(k.hi, v + d), 6))
        self.ranges[cls.name] = out
        if cls.name not in self.classes:
            self.classes.append(cls.name)
        return out

    def set_classes_text(self, text: str) -> None:
        """Classes from comma-separated names, family names, globs or ``all``."""
        pats = [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]
        if not pats:
            raise ValueError("classes: give at least one name, family, glob or 'all'")
        try:
            preset = parse_preset({"classes": {"include": pats}}, "classes")
        except PresetError as err:
            raise ValueError(str(err)) from None
        self.classes = preset.classes.names()

    def to_preset(self) -> Preset:
        """The validated preset; raises ``PresetError`` naming the field at fault."""
        data = self.base.model_dump(mode="json")
        data["name"], data["seed"] = self.name, int(self.seed)
        data["volume"] = {**data["volume"], "shape": list(self.shape)}
        data["objects"] = {**data["objects"], "per_volume": int(self.per_volume)}
        if self.classes != self.base.classes.names():
            data["classes"]["include"] = compress_classes(self.classes)
            data["classes"]["exclude"] = []
        data["classes"]["ranges"] = {
            k: {p: list(r) for p, r in v.items()} for k, v in self.ranges.items()
        }
        data["displacements"] = {
            "space": self.space,
            "include_none": self.include_none,
            "enabled": [_dump(e.item()) for e in self.displacements if e.enabled],
        }
        data["mappers"] = {"enabled": [_dump(e.item()) for e in self.mappers if e.enabled]}
        data["labels"] = {**data["labels"], "mode": self.label_mode}
        return parse_preset(data, "preset editor")

    def save(self, path: str | Path) -> Preset:
        """Validate and write the preset as YAML (atomically); return it."""
        preset = self.to_preset()
        with atomic_path(path) as tmp:
            Path(tmp).write_text(preset.to_yaml())
        return preset

    def settings(self) -> dict[str, Any]:
        """Plain-data view of every editable setting (round-trip comparisons)."""
        return {
            "classes": list(self.classes),
            "displacements": _texture_settings(self.displacements),
            "mappers": _texture_settings(self.mappers),
            "space": self.space,
            "include_none": self.include_none,
            "name": self.name,
            "seed": self.seed,
            "shape": tuple(self.shape),
            "per_volume": self.per_volume,
            "label_mode": self.label_mode,
            "ranges": {k: {p: tuple(r) for p, r in v.items()} for k, v in self.ranges.items()},
        }


def _texture_settings(entries: list[TextureEntry]) -> dict[str, list]:
    """What a preset keeps of the entries: enabled ones in order; disabled built-ins."""
    return {
        "enabled": [_dump(e.item()) for e in entries if e.enabled],
        "disabled": sorted(e.name for e in entries if not e.enabled and e.spec is None),
    }


def _dump(item: str | InstanceSpec) -> Any:
    return item if isinstance(item, str) else item.model_dump(mode="json")


# --------------------------------------------------------------------------- session
class Session:
    """The studio's state for one viewer: the design, the preset draft, the last sample.

    Panels subscribe to ``"draft"`` (the preset draft changed) and ``"sample"`` (a scene
    was rendered); bound methods are held weakly, so closed panels drop out by themselves.
    """

    def __init__(self) -> None:
        self.design = DesignState()
        self.draft = PresetDraft()
        self.sample: Sample | None = None  # the last scene render
        self.sample_preset: Preset | None = None  # the preset it was rendered from
        self._listeners: dict[str, list[Callable[[], Any]]] = {"draft": [], "sample": []}

    def connect(self, what: str, fn: Callable[[], Any]) -> None:
        ref = weakref.WeakMethod(fn) if inspect.ismethod(fn) else (lambda: fn)
        self._listeners[what].append(ref)

    def emit(self, what: str) -> None:
        alive = []
        for ref in self._listeners[what]:
            fn = ref()
            if fn is not None:
                alive.append(ref)
                fn()
        self._listeners[what] = alive
