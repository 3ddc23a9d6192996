"""``DesignState``: one primitive being designed, turned into engine objects.

The state holds class, shape knobs, pose, displacement and mapper, and builds a one-class
``Preset``, a ``Recipe`` and an ``ObjectSpec`` from them, so every preview is rendered by
the same engine code as the datasets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fdif_core.engine.compose import ObjectSpec, Recipe
from fdif_core.engine.pose import Pose
from fdif_core.engine.registry import suggest
from fdif_core.engine.sdf.geometry import GEOMETRIES
from fdif_core.engine.sdf.library import PRIMITIVES, PrimitiveClass
from fdif_core.engine.spec import EngineSpec
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M
from fdif_core.presets.preset import InstanceSpec, Preset, parse_preset

from .knobs import Knob, build_params, knobs_for
from .textures import FORMULA, FORMULA_DEFAULTS, NONE, STUDIO_DEFAULTS, check_texture_params


@dataclass(frozen=True)
class DesignRequest:
    """A snapshot of the design to render: immutable, safe to hand to a worker thread."""

    recipe: Recipe
    obj: ObjectSpec
    shape: tuple[int, int, int]
    device: str
    version: int
    surface: bool = True  # also extract the isosurface
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)  # mm per reference voxel
    check: bool = False  # also check what the displacement does to the object (model.checks)
    only_check: bool = False  # the check alone (the volumes are already shown)


@dataclass
class DesignState:
    """One primitive being designed: class, knobs, geometry, pose, displacement and mapper.

    Lengths of knobs and translation are fractions of the reference grid edge ``grid``
    (the shortest edge of ``shape``); angles are degrees. ``shape`` and ``spacing`` are the
    frame (reference voxels, mm per voxel), normally the edited preset's volume, so design
    and scene share one physical frame. ``version`` counts changes (the widgets drop stale
    renders). ``geometry`` is the class's field style, as a preset's ``geometry.style``:
    ``exact`` or ``authors`` (the released generator's fields; docs/method.md).
    """

    primitive: str = "sphere"
    knobs: dict[str, float] = field(default_factory=dict)
    geometry: str = "exact"
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angles_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shear: tuple[float, float, float] = (0.0, 0.0, 0.0)
    displacement: str = NONE
    displacement_params: dict[str, float] = field(default_factory=dict)
    space: str = "object"
    mapper: str = "linear"
    mapper_params: dict[str, float] = field(default_factory=lambda: {"slope": 10.0})
    shape: tuple[int, int, int] = (96, 96, 96)
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    clip: tuple[float, float] = (0.0, 128.0)
    version: int = 0

    def __post_init__(self) -> None:
        self.set_primitive(self.primitive, keep=True)
        self.set_mapper(self.mapper, self.mapper_params)  # canonical: defaults filled in
        self.set_displacement(self.displacement, self.displacement_params or None, self.space)

    # ---- edits (each validates and bumps the version)
    @property
    def grid(self) -> int:
        """The reference grid edge G (voxels): the frame's shortest edge."""
        return min(self.shape)

    def set_frame(
        self,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
        clip: tuple[float, float] = (0.0, 128.0),
    ) -> bool:
        """Use another frame (a preset's volume and intensity clip); True if it changed."""
        shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
        spacing = tuple(float(x) for x in spacing)  # type: ignore[assignment]
        clip = (float(clip[0]), float(clip[1]))
        if len(shape) != 3 or min(shape) < 4 or len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f"frame {shape} x {spacing}: three edges >= 4 and spacings > 0")
        if (shape, spacing, clip) == (self.shape, self.spacing, self.clip):
            return False
        self.shape, self.spacing, self.clip = shape, spacing, clip
        self.version += 1
        return True

    def preview_shape(self, resolution: int) -> tuple[int, int, int]:
        """Grid of a preview whose longest edge has ``resolution`` voxels."""
        top = max(self.shape)
        return tuple(max(4, round(int(resolution) * n / top)) for n in self.shape)  # type: ignore[return-value]

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

    def set_geometry(self, style: str) -> None:
        """Field style of the class: ``exact`` or ``authors``."""
        if style not in GEOMETRIES:
            raise ValueError(f"geometry {style!r}; allowed: {', '.join(GEOMETRIES)}")
        self.geometry = style
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
            studio = STUDIO_DEFAULTS["displacement"].get(family, {}) if params is None else {}
            base = FORMULA_DEFAULTS["displacement"] if family == FORMULA else {
                **fam.defaults, **studio}  # fmt: skip
            full = {**base, **(params or {})} if family != FORMULA or not params else params
            self.displacement_params = check_texture_params("displacement", family, full)
            self.displacement = family
        self.version += 1

    def set_mapper(self, family: str, params: dict[str, float] | None = None) -> None:
        if family not in M.FAMILIES:
            raise ValueError(suggest(family, M.FAMILIES.names, "mapper family"))
        base = FORMULA_DEFAULTS["mapper"] if family == FORMULA else M.FAMILIES.get(family).defaults
        full = {**base, **(params or {})} if family != FORMULA or not params else params
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
            "volume": {"shape": list(self.shape), "spacing": list(self.spacing)},
            "intensity": {"clip": list(self.clip)},
            "objects": {"per_volume": 1},
            "classes": {"include": [self.primitive]},
            "geometry": {"style": self.geometry, "grid": "centred"},
            "displacements": {
                "space": self.space,
                "include_none": True,
                "enabled": [disp.model_dump()] if disp else [],
            },
            "mappers": {"enabled": [self.mapper_spec().model_dump()]},
        }
        return parse_preset(data, "design")

    def engine_spec(self) -> EngineSpec:
        """The engine's plain-data recipe of this design (what ``preset()`` resolves to)."""
        disp = self.displacement_spec()
        return EngineSpec(
            classes=[self.primitive],
            mappers=[M.Mapper("design", self.mapper, dict(self.mapper_params))],
            displacements=[] if disp is None else [D.Displacement("design", disp.family,
                                                                  dict(disp.params))],
            shape=self.shape,
            per_volume=1,
            include_none=True,
            displacement_space=self.space,  # type: ignore[arg-type]
            clip=self.clip,
            geometry={self.primitive: self.geometry},  # type: ignore[dict-item]
        )  # fmt: skip

    def pose(self) -> Pose:
        t = tuple(x * self.grid for x in self.translation)
        a = tuple(math.radians(x) for x in self.angles_deg)
        return Pose.build(t, a, self.shear)  # type: ignore[arg-type]

    def object_spec(self) -> ObjectSpec:
        params = build_params(self.cls, self.knobs, float(self.grid), self.geometry)
        disp = -1 if self.displacement == NONE else 0
        return ObjectSpec(self.primitive, params, self.pose(), 0, disp)

    def request(self, resolution: int, device: str = "cpu") -> DesignRequest:
        """Snapshot for a render whose longest edge has ``resolution`` voxels, on ``device``."""
        return DesignRequest(
            Recipe(self.engine_spec()),
            self.object_spec(),
            self.preview_shape(resolution),
            device,
            self.version,
            spacing=self.spacing,
        )

    def settings(self) -> dict[str, Any]:
        """Plain-data view of the design (YAML-safe: undo history, saved designs)."""
        return {
            "primitive": self.primitive,
            "knobs": dict(self.knobs),
            "geometry": self.geometry,
            "translation": list(self.translation),
            "angles_deg": list(self.angles_deg),
            "shear": list(self.shear),
            "displacement": self.displacement,
            "displacement_params": dict(self.displacement_params),
            "space": self.space,
            "mapper": self.mapper,
            "mapper_params": dict(self.mapper_params),
        }

    def restore(self, settings: dict[str, Any]) -> None:
        """Take every setting of ``settings`` (as ``settings()`` gives), all checked first.

        Raises:
            ValueError: an unknown key, class, family, parameter or an out-of-range value;
                the design is left as it was.
        """
        unknown = sorted(set(settings) - set(self.settings()))
        if unknown:
            raise ValueError(f"design: unknown setting {unknown[0]!r}; allowed: "
                             + ", ".join(self.settings()))  # fmt: skip
        trial = DesignState(shape=self.shape, spacing=self.spacing, clip=self.clip)
        s = {**self.settings(), **settings}
        if s["primitive"] not in PRIMITIVES:
            raise ValueError(suggest(str(s["primitive"]), PRIMITIVES.names, "primitive class"))
        trial.set_primitive(s["primitive"])
        for name, value in dict(s["knobs"]).items():
            trial.set_knob(name, value)
        trial.set_geometry(s["geometry"])
        trial.set_pose(s["translation"], s["angles_deg"], s["shear"])
        trial.set_displacement(s["displacement"], dict(s["displacement_params"]), s["space"])
        trial.set_mapper(s["mapper"], dict(s["mapper_params"]))
        version = self.version
        for key in self.settings():
            setattr(self, key, getattr(trial, key))
        self.version = version + 1
