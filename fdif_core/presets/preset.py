"""Preset schema (version 1): a whole FDIF recipe as strict, validated data.

Names of classes, displacements and mappers are checked against the registries; any
mistake becomes one line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ..engine.registry import Registry, suggest
from ..engine.sdf.library import FDIF_CLASSES, PRIMITIVES
from ..engine.textures import displacements as D
from ..engine.textures import mappers as M
from ..engine.textures.instances import Instance as TextureInstance
from ..errors import UserError
from .base import Strict
from .finetune import FinetuneConfig
from .pretrain import PretrainConfig

if TYPE_CHECKING:
    from ..engine.compose import Recipe
    from ..engine.spec import EngineSpec

PRESET_DIR = Path(__file__).resolve().parents[2] / "presets"


class PresetError(UserError, ValueError):
    """A preset that cannot be used; the message is one line for the user."""


def _ordered(r: tuple[float, float]) -> tuple[float, float]:
    if r[0] > r[1]:
        raise ValueError(f"range low {r[0]} is above high {r[1]}")
    return r


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]


class VolumeConfig(Strict):
    shape: tuple[PositiveInt, PositiveInt, PositiveInt] = (96, 96, 96)
    spacing: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = (1.0, 1.0, 1.0)


class ObjectsConfig(Strict):
    per_volume: PositiveInt = 20


def _class_names(patterns: list[str]) -> list[str]:
    """Expand names, family names and glob patterns to class names (registry order)."""
    out: list[str] = []
    for pat in patterns:
        if pat == "all":
            hits = FDIF_CLASSES
        else:
            hits = [
                n for n, c in PRIMITIVES.items() if fnmatch.fnmatchcase(n, pat) or c.family == pat
            ]
        if not hits:
            raise ValueError(suggest(pat, PRIMITIVES.names, "primitive class"))
        out += [h for h in hits if h not in out]
    return out


class ClassesConfig(Strict):
    """Which primitive classes, in label order; entries are names, family names or globs."""

    include: list[str] = ["all"]
    exclude: list[str] = []
    ranges: dict[str, dict[str, Range]] = Field(
        default_factory=dict,
        description="glob over class names -> {parameter: [low, high]} overriding default ranges",
    )

    @field_validator("include", "exclude")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        _class_names(v)
        return v

    @field_validator("ranges")
    @classmethod
    def _known_params(cls, v: dict[str, dict[str, Range]]) -> dict[str, dict[str, Range]]:
        for pat, params in v.items():
            hit = [c for n, c in PRIMITIVES.items() if fnmatch.fnmatchcase(n, pat)]
            if not hit:
                raise ValueError(suggest(pat, PRIMITIVES.names, "primitive class pattern"))
            allowed = sorted({k for c in hit for k in c.ranges})
            for key in params:
                if key not in allowed:
                    raise ValueError(
                        f"{pat}: unknown parameter {key!r}; allowed: {', '.join(allowed)}"
                    )
        return v

    def names(self) -> list[str]:
        drop = set(_class_names(self.exclude)) if self.exclude else set()
        names = [n for n in _class_names(self.include) if n not in drop]
        if not names:
            raise ValueError("no class left after exclude")
        return names

    def ranges_for(self, name: str) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for pat, params in self.ranges.items():
            if fnmatch.fnmatchcase(name, pat):
                out.update(params)
        return out

    @model_validator(mode="after")
    def _nonempty(self) -> ClassesConfig:
        self.names()
        return self


class PoseConfig(Strict):
    translation: Range = (-0.35, 0.35)
    rotation: Range = (-math.pi, math.pi)
    shear: Range = (-0.1, 0.1)


class InstanceSpec(Strict):
    """A custom displacement or mapper instance: a family plus parameters."""

    name: str
    family: str
    params: dict[str, float] = {}


Instance = str | InstanceSpec
Inst = TypeVar("Inst", bound=TextureInstance)


def _instances(items: list[Instance], kind: type[Inst], registry: Registry[Inst]) -> list[Inst]:
    """Resolve names and inline specs to instances; unknown names and duplicates fail."""
    out: list[Inst] = []
    for it in items:
        if isinstance(it, str):
            inst = registry.get(it)
        else:
            kind.check_params(it.family, it.params)
            inst = kind(it.name, it.family, dict(it.params))
        if inst.name in {o.name for o in out}:
            raise ValueError(f"{inst.name!r} listed twice")
        out.append(inst)
    return out


class DisplacementsConfig(Strict):
    space: Literal["object", "world"] = "object"
    include_none: bool = True
    enabled: list[Instance] = Field(default_factory=lambda: list(D.PAPER_DISPLACEMENTS))

    @field_validator("enabled")
    @classmethod
    def _known(cls, v: list[Instance]) -> list[Instance]:
        _instances(v, D.Displacement, D.DISPLACEMENTS)
        return v

    def instances(self) -> list[D.Displacement]:
        return _instances(self.enabled, D.Displacement, D.DISPLACEMENTS)

    @model_validator(mode="after")
    def _some(self) -> DisplacementsConfig:
        if not self.enabled and not self.include_none:
            raise ValueError("no displacement: enable one or set include_none")
        return self


class MappersConfig(Strict):
    enabled: list[Instance] = Field(default_factory=lambda: list(M.PAPER_MAPPERS), min_length=1)

    @field_validator("enabled")
    @classmethod
    def _known(cls, v: list[Instance]) -> list[Instance]:
        _instances(v, M.Mapper, M.MAPPERS)
        return v

    def instances(self) -> list[M.Mapper]:
        return _instances(self.enabled, M.Mapper, M.MAPPERS)


class IntensityConfig(Strict):
    clip: Range = (0.0, 128.0)


class LabelsConfig(Strict):
    """``augmentation``: label = primitive; ``classes``: primitive x mapper (x displacement);
    ``multitask``: separate shape, displacement and mapper label maps."""

    mode: Literal["augmentation", "classes", "multitask"] = "augmentation"
    combine: list[Literal["mapper", "displacement"]] = ["mapper"]


class ClassificationConfig(Strict):
    """Single-object classification variant."""

    size_scale: PositiveFloat = Field(1.3, description="linear scale; 1.3 = about 2.2x the volume")
    normalize: Literal["zscore", "none"] = "zscore"


class DatasetConfig(Strict):
    num_samples: PositiveInt = 5000
    num_val: NonNegativeInt = 0


Style = Literal["authors", "exact"]


class GeometryConfig(Strict):
    """Which fields the classes have (docs/method.md): ``authors``, the authors' released
    generator (the paper's data), or ``exact``, true SDFs or distance bounds with closed
    onion shells, the exact octahedron, mirrored revolutions and sliver rejection."""

    style: Style = "exact"
    overrides: dict[str, Style] = Field(
        default_factory=dict, description="class name, family or glob -> style for those classes"
    )
    grid: Literal["centred", "authors"] | None = Field(
        None,
        description="voxel coordinates: centred, or the authors' -G/2..G/2-1 with displacement "
        "coordinates divided by G/2-1 (default: authors for the authors' style)",
    )

    @field_validator("overrides")
    @classmethod
    def _known(cls, v: dict[str, Style]) -> dict[str, Style]:
        for pat in v:
            _class_names([pat])
        return v

    def style_of(self, name: str) -> Style:
        out = self.style
        for pat, style in self.overrides.items():
            if name in _class_names([pat]):
                out = style
        return out

    def grid_frame(self) -> Literal["centred", "authors"]:
        return self.grid or ("authors" if self.style == "authors" else "centred")


class Preset(Strict):
    """A whole FDIF recipe."""

    version: Literal[1] = 1
    name: str = "unnamed"
    description: str = ""
    seed: int = 0
    volume: VolumeConfig = VolumeConfig()
    objects: ObjectsConfig = ObjectsConfig()
    classes: ClassesConfig = ClassesConfig()
    geometry: GeometryConfig = GeometryConfig()
    pose: PoseConfig = PoseConfig()
    displacements: DisplacementsConfig = DisplacementsConfig()
    mappers: MappersConfig = MappersConfig()
    intensity: IntensityConfig = IntensityConfig()
    labels: LabelsConfig = LabelsConfig()
    classification: ClassificationConfig = ClassificationConfig()
    dataset: DatasetConfig = DatasetConfig()
    pretrain: PretrainConfig = PretrainConfig()
    finetune: FinetuneConfig | None = None

    @field_validator("geometry", mode="before")
    @classmethod
    def _style_shorthand(cls, v: Any) -> Any:
        return {"style": v} if isinstance(v, str) else v

    def hash(self) -> str:
        """Stable digest of the recipe (name and description excluded)."""
        data = self.model_dump(mode="json", exclude={"name", "description"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def engine_spec(self) -> EngineSpec:
        """The engine's plain-data view of this preset (``fdif_core.presets.resolve``)."""
        from .resolve import engine_spec

        return engine_spec(self)

    def recipe(self) -> Recipe:
        """A renderable ``Recipe`` of this preset."""
        from .resolve import recipe

        return recipe(self)


def format_error(err: ValidationError, source: str) -> str:
    """First validation error as one line: ``source: field.path: message``."""
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-")) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
    elif e["type"] == "missing" and e["loc"] and isinstance(e["loc"][-1], int):
        loc = loc.rsplit(".", 1)[0]
        msg = f"too few values (needs 3: one per axis), got {e['loc'][-1]}"
    elif e["type"] == "literal_error":
        msg = f"{msg} (got {e.get('input')!r})"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"


def resolve_path(name_or_path: str | Path) -> Path:
    """A preset file, or a shipped preset's name (``quickstart`` -> presets/quickstart.yaml)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    for cand in (PRESET_DIR / f"{name_or_path}.yaml", PRESET_DIR / str(name_or_path)):
        if cand.exists():
            return cand
    shipped = sorted(
        str(q.relative_to(PRESET_DIR).with_suffix("")) for q in PRESET_DIR.rglob("*.yaml")
    )
    raise PresetError(f"{name_or_path}: no such preset file; shipped presets: {', '.join(shipped)}")


def parse_preset(data: Any, source: str = "<preset>") -> Preset:
    if not isinstance(data, dict):
        raise PresetError(
            f"{source}: a preset must be a mapping of fields, got {type(data).__name__}"
        )
    try:
        return Preset.model_validate(data)
    except ValidationError as err:
        raise PresetError(format_error(err, source)) from None


def load_preset(name_or_path: str | Path) -> Preset:
    """Read and validate a preset (YAML via ``yaml.safe_load``)."""
    path = resolve_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PresetError(
            f"{path}:{where} not valid YAML ({getattr(err, 'problem', err)})"
        ) from None
    except OSError as err:
        raise PresetError(f"{path}: cannot read ({err.strerror})") from None
    return parse_preset(data, str(path))
