"""Presets: shipped ones validate; each kind of mistake fails with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fdif_core.presets import PresetError, load_preset, parse_preset
from fdif_core.presets.preset import PRESET_DIR

SHIPPED = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))

INVALID = [
    ({"classes": {"include": ["sphre"]}}, "classes.include", "Did you mean 'sphere'"),
    ({"classes": {"include": ["sphere"], "exclude": ["sphere"]}}, "classes", "no class left"),
    ({"mappers": {"enabled": ["exponential_base_3"]}}, "mappers.enabled", "unknown mapper"),
    ({"mappers": {"enabled": []}}, "mappers.enabled", "at least 1"),
    ({"displacements": {"enabled": ["ridges"]}}, "displacements.enabled", "'ridge'"),
    (
        {"displacements": {"enabled": [{"name": "x", "family": "ridge", "params": {"amp": 1}}]}},
        "displacements.enabled",
        "no parameter 'amp'",
    ),
    (
        {"displacements": {"enabled": [{"name": "x", "family": "perlin"}]}},
        "displacements.enabled",
        "unknown displacement family",
    ),
    ({"displacements": {"space": "screen"}}, "displacements.space", "'object' or 'world'"),
    ({"volume": {"shape": [96, -1, 96]}}, "volume.shape.1", "greater than 0"),
    ({"volume": {"spacing": [1, 1]}}, "volume.spacing", "too few values (needs 3"),
    ({"objects": {"per_volume": 0}}, "objects.per_volume", "greater than 0"),
    ({"objects": {"per_volume": "many"}}, "objects.per_volume", "must be a number"),
    ({"pose": {"shear": [0.2, 0.1]}}, "pose.shear", "low 0.2 is above high 0.1"),
    ({"classes": {"ranges": {"sphere": {"radius": [0.4, 0.1]}}}}, "classes.ranges", "above high"),
    (
        {"classes": {"ranges": {"sphere": {"radus": [0.1, 0.2]}}}},
        "classes.ranges",
        "allowed: radius",
    ),
    ({"labels": {"mode": "bogus"}}, "labels.mode", "'augmentation', 'classes' or 'multitask'"),
    ({"colour": 1}, "colour", "unknown field"),
    ({"version": 2}, "version", "1"),
    ({"dataset": {"num_samples": -5}}, "dataset.num_samples", "greater than 0"),
]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_presets_validate(name: str) -> None:
    preset = load_preset(name)
    assert preset.name == name
    assert len(preset.recipe().label_names) > 1


def test_geometry_switch_shorthand_overrides_and_grid() -> None:
    spec = parse_preset({"geometry": "authors"}).engine_spec()
    assert set(spec.geometry.values()) == {"authors"} and spec.grid == "authors"
    over = {"style": "exact", "overrides": {"*_onion": "authors", "octahedron": "authors"}}
    spec = parse_preset({"geometry": over}).engine_spec()
    assert spec.geometry["polygon_3_prism_onion"] == "authors" and spec.grid == "centred"
    assert spec.geometry["octahedron"] == "authors" and spec.geometry["sphere"] == "exact"
    with pytest.raises(PresetError, match="geometry"):
        parse_preset({"geometry": "rough"}, "bad.yaml")
    with pytest.raises(PresetError, match=r"geometry\.overrides"):
        parse_preset({"geometry": {"overrides": {"spere": "exact"}}}, "bad.yaml")


def test_paper_preset_is_the_paper_configuration() -> None:
    p = load_preset("fdif-paper")
    r = p.recipe()
    assert p.volume.shape == (96, 96, 96) and p.objects.per_volume == 20
    assert len(r.classes) == 109 and len(r.label_names) == 110
    assert len(r.mappers) == 10 and len(r.displacements) == 9 and p.displacements.include_none
    assert p.dataset.num_samples == 5000 and p.displacements.space == "world"
    assert set(r.spec.geometry.values()) == {"authors"} and r.spec.grid == "authors"
    exact = load_preset("fdif-exact").recipe()
    assert exact.classes == r.classes and set(exact.spec.geometry.values()) == {"exact"}
    assert exact.spec.grid == "centred" and exact.spec.displacement_space == "object"
    prim = load_preset("primgeoseg").recipe()
    assert len(prim.classes) == 32 and [m.name for m in prim.mappers] == ["flat_128"]
    assert prim.displacements == [] and prim.spec.pose.rotation == (0.0, 0.0)


@pytest.mark.parametrize(("data", "field", "message"), INVALID)
def test_invalid_presets_fail_with_one_line(data: dict, field: str, message: str) -> None:
    with pytest.raises(PresetError) as err:
        parse_preset(data, "bad.yaml")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"bad.yaml: {field}")
    assert message in text


def test_file_level_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("volume: [1, 2\n")
    with pytest.raises(PresetError, match=r"broken.yaml: line \d+ not valid YAML"):
        load_preset(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(PresetError, match="must be a mapping"):
        load_preset(listy)
    with pytest.raises(PresetError, match=r"no such preset file; shipped presets: .*quickstart"):
        load_preset(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_yaml_round_trip_and_hash(tmp_path: Path, name: str) -> None:
    p = load_preset(name)
    out = tmp_path / "q.yaml"
    out.write_text(p.to_yaml())
    again = load_preset(out)
    assert again == p and again.hash() == p.hash()
    changed = parse_preset({**again.model_dump(mode="json"), "seed": 1})
    assert changed.hash() != p.hash()


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PresetError, match="not valid YAML"):
        load_preset(evil)
