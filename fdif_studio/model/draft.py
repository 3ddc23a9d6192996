"""``PresetDraft``: the preset being edited (classes, instances, volume, labels).

It loads and writes ``fdif_core`` presets; settings the studio does not show are kept
from the loaded preset as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fdif_core.engine.registry import suggest
from fdif_core.engine.sdf.library import FDIF_CLASSES, PRIMITIVES
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M
from fdif_core.io.atomic import atomic_path
from fdif_core.presets.preset import InstanceSpec, Preset, PresetError, load_preset, parse_preset

from .design import DesignState
from .textures import check_instance_name

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
        """Validate and write the preset as YAML (atomically); return it. A preset still
        named as the one it was loaded from takes the file's name (``my_liver.yaml`` ->
        ``my_liver``), so a saved preset is never silently called ``quickstart``."""
        if self.name == self.base.name:
            stem = Path(path).name
            for suffix in (".yaml", ".yml"):
                stem = stem.removesuffix(suffix)
            self.name = stem.removesuffix("_preset") or self.name
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
