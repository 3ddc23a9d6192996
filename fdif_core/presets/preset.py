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

from ..engine.params import BOUND, SEED_MAX, SHAPE_PARAMS, Param
from ..engine.registry import Registry, suggest
from ..engine.sdf.library import FDIF_CLASSES, PRIMITIVES
from ..engine.textures import displacements as D
from ..engine.textures import mappers as M
from ..engine.textures.instances import Instance as TextureInstance
from ..errors import arg
from .base import Strict, type_problem
from .catalog import shipped_dir, shipped_preset_path, shipped_presets
from .finetune import FinetuneConfig
from .limits import LimitsConfig, check_sizes
from .loader import MAX_PRESET_BYTES, PresetError, parse_yaml, read_preset_text
from .pretrain import PretrainConfig

if TYPE_CHECKING:
    from ..engine.compose import Recipe
    from ..engine.spec import EngineSpec

PRESET_DIR = shipped_dir()  # kept for callers; new code uses .catalog


def _ordered(r: tuple[float, float]) -> tuple[float, float]:
    if r[0] > r[1]:
        raise ValueError(f"range low {r[0]} is above high {r[1]}")
    return r


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]


def _within(low: float, high: float, what: str = "") -> AfterValidator:
    """Every number of a value (a range, a triple) within ``[low, high]``."""

    def check(v):
        if any(not low <= x <= high for x in v):
            raise ValueError(f"must lie within [{low:g}, {high:g}]{what}, got {list(v)}")
        return v

    return AfterValidator(check)


class VolumeConfig(Strict):
    shape: tuple[PositiveInt, PositiveInt, PositiveInt] = (96, 96, 96)
    spacing: Annotated[
        tuple[PositiveFloat, PositiveFloat, PositiveFloat], _within(1e-6, 1e6, " mm")
    ] = (1.0, 1.0, 1.0)


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
            allowed = sorted({k for c in hit for k in c.params})
            for key, (low, high) in params.items():
                if key not in allowed:
                    raise ValueError(
                        f"{pat}: unknown parameter {key!r}; allowed: {', '.join(allowed)}"
                    )
                p = SHAPE_PARAMS.get(key)  # sizes stay >= 0, signed ones within ±100
                if low < p.low or high > p.high:
                    raise ValueError(
                        f"{pat}: {key} [{low:g}, {high:g}] must lie within [{p.low:g}, "
                        f"{p.high:g}] (fractions of the volume)"
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
    """Ranges of the sampled pose: translation (fraction of the volume), rotation (radians)
    and shear."""

    translation: Annotated[Range, _within(-10, 10)] = (-0.35, 0.35)
    rotation: Annotated[Range, _within(-100, 100)] = (-math.pi, math.pi)
    shear: Annotated[Range, _within(-10, 10)] = (-0.1, 0.1)


class InstanceSpec(Strict):
    """A custom displacement or mapper instance: a family plus parameters (numbers; the
    ``expression`` family's formula is the text parameter ``expr``)."""

    name: str
    family: str
    params: dict[str, float | str] = {}

    @field_validator("params", mode="before")
    @classmethod
    def _only_expr_is_text(cls, v: Any) -> Any:
        for k, x in v.items() if isinstance(v, dict) else ():
            if isinstance(x, bool) or not isinstance(x, (int, float, str)):
                raise ValueError(f"params.{k}: {type_problem(float, x) or 'must be a number'}")
            if isinstance(x, str) and k != "expr":
                raise ValueError(f"params.{k} = {x!r}: a number is needed (only expr is text)")
        return v


Instance = str | InstanceSpec


def _param_problem(meta: dict[str, Param], key: str, value: float | str) -> str | None:
    """A texture parameter against its family's metadata (a formula's own named numbers:
    within ±BOUND)."""
    if isinstance(value, str):  # a formula (expr): checked by its family
        return None
    default = Param(key, -BOUND, BOUND, "", "", (-BOUND, BOUND, 0))
    return meta.get(key, default).problem(value)


Inst = TypeVar("Inst", bound=TextureInstance)


def _instances(items: list[Instance], kind: type[Inst], registry: Registry[Inst]) -> list[Inst]:
    """Resolve names and inline specs to instances; unknown names and duplicates fail."""
    out: list[Inst] = []
    for it in items:
        if isinstance(it, str):
            inst = registry.get(it)
        else:
            kind.check_params(it.family, it.params)
            meta = kind.families.get(it.family).params
            for key, value in it.params.items():
                problem = _param_problem(meta, key, value)
                if problem:
                    raise ValueError(f"{it.name}: {problem}")
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


def _in_uint8(r: tuple[float, float]) -> tuple[float, float]:
    if r[0] < 0 or r[1] > 255:
        raise ValueError(f"must lie within [0, 255] (stored as uint8), got {list(r)}")
    return r


class IntensityConfig(Strict):
    clip: Annotated[Range, AfterValidator(_in_uint8)] = (0.0, 128.0)


class LabelsConfig(Strict):
    """``augmentation``: label = primitive; ``classes``: primitive x mapper (x displacement);
    ``multitask``: separate shape, displacement and mapper label maps."""

    mode: Literal["augmentation", "classes", "multitask"] = "augmentation"
    combine: list[Literal["mapper", "displacement"]] = ["mapper"]


class ClassificationConfig(Strict):
    """Single-object classification variant."""

    size_scale: PositiveFloat = Field(
        1.3, le=10.0, description="linear scale; 1.3 = about 2.2x the volume"
    )
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
    seed: int = Field(0, ge=0, le=SEED_MAX, description="0..2**32-1")
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
    limits: LimitsConfig = LimitsConfig()

    @model_validator(mode="after")
    def _within_limits(self) -> Preset:
        problem = check_sizes(self)
        if problem:
            raise ValueError(problem)
        return self

    @field_validator("geometry", mode="before")
    @classmethod
    def _style_shorthand(cls, v: Any) -> Any:
        return {"style": v} if isinstance(v, str) else v

    def hash(self) -> str:
        """Stable digest of the recipe (name, description and limits excluded)."""
        data = self.model_dump(mode="json", exclude={"name", "description", "limits"})
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


def _model_names() -> set[str]:
    out: set[str] = set()
    todo = [Strict]
    while todo:
        cls = todo.pop()
        out.add(cls.__name__)
        todo += cls.__subclasses__()
    return out


def _loc(parts: tuple[Any, ...]) -> str:
    """A pydantic error location as ``a.b.0``, without union-member and validator tags."""
    skip = _model_names() | {"str", "int", "float", "bool", "none", "list", "dict", "tuple"}
    keep = [
        str(p)
        for p in parts
        if not (isinstance(p, str) and (p in skip or "[" in p or p.startswith("function-")))
    ]
    return ".".join(keep)


def _input(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    return type(value).__name__


def format_error(err: ValidationError, source: str) -> str:
    """The most specific validation error as one line: ``source: field.path: message``."""
    errors = err.errors()
    e = max(errors, key=lambda x: len(_loc(x["loc"]).split(".")))  # deepest = most specific
    loc = _loc(e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
    elif e["type"] == "missing" and e["loc"] and isinstance(e["loc"][-1], int):
        loc = loc.rsplit(".", 1)[0]
        msg = f"too few values (needs 3: one per axis), got {e['loc'][-1]}"
    elif e["type"] == "literal_error":
        msg = f"{msg} (got {e.get('input')!r})"
    elif "input" in e and e["type"] not in ("value_error", "missing"):
        got = _input(e["input"])
        msg = f"{msg.rstrip('.')} ({got})" if "got " in msg else f"{msg}, got {got}"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {loc + ': ' if loc else ''}{msg}{more}"


def resolve_path(name_or_path: str | Path) -> Path:
    """A preset file, or a shipped preset's name (``quickstart``: the shipped quickstart.yaml)."""
    if not str(name_or_path).strip():
        raise PresetError(
            f"{arg('preset')}: empty name (an unset shell variable?); give a preset file or a "
            "shipped name such as quickstart"
        )
    p = Path(name_or_path)
    if p.exists() or p.is_symlink():
        return p
    cand = shipped_preset_path(str(name_or_path))
    if cand is not None:
        return cand
    shipped = ", ".join(shipped_presets())
    raise PresetError(f"{name_or_path}: no such preset file; shipped presets: {shipped}")


def parse_preset(data: Any, source: str = "<preset>") -> Preset:
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise PresetError(f"{source}: a preset must be a mapping of fields, got {got}")
    try:
        return Preset.model_validate(data)
    except ValidationError as err:
        raise PresetError(format_error(err, source)) from None


def preset_from_text(text: object, source: str) -> Preset:
    """A preset stored as YAML text (a file's, a checkpoint's, a run folder's): strict safe
    YAML (duplicate keys, depth, aliases), the schema and size limits; errors are one line."""
    if not isinstance(text, str):
        raise PresetError(f"{source}: holds no preset text (got {type(text).__name__})")
    if len(text) > MAX_PRESET_BYTES:
        raise PresetError(f"{source}: a preset of over {MAX_PRESET_BYTES:,} characters")
    return parse_preset(parse_yaml(text, source), source)


def load_preset(name_or_path: str | Path) -> Preset:
    """Read and validate a preset file or shipped name: file checks, then
    :func:`preset_from_text`, the one reader of every stored preset."""
    path = resolve_path(name_or_path)
    return preset_from_text(read_preset_text(path), str(path))
