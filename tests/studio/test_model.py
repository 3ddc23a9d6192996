"""Qt-free studio model: knobs -> engine params, previews equal the engine's render, presets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from fdif_core import PRIMITIVES, load_preset
from fdif_core.engine.sdf.library import sample_params
from fdif_core.presets.preset import InstanceSpec, PresetError
from fdif_studio.model import (
    NONE,
    DesignState,
    PresetDraft,
    build_params,
    compress_classes,
    families,
    knobs_for,
)
from fdif_studio.model.render import frame, isosurface, render_volumes, surface_field

ONE_PER_FAMILY = [members[-1] for members in families().values()]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the 2-core machine is shared: keep timings stable
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", PRIMITIVES.names)
def test_knobs_give_the_engines_parameters(name: str) -> None:
    cls = PRIMITIVES.get(name)
    drawn = sample_params(cls, torch.Generator().manual_seed(0), 96.0)
    built = build_params(cls, {}, 96.0)
    assert set(built) == set(drawn)
    for k in knobs_for(cls):
        assert k.lo <= k.default <= k.hi, (name, k)


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_preview_equals_engine_render(name: str) -> None:
    s = DesignState(primitive=name)
    s.set_pose(translation=(0.05, -0.03, 0.02), angles_deg=(20, -35, 50), shear=(0.05, 0, -0.05))
    s.set_displacement("ridge", {"amplitude": 0.04, "frequency": 12.0})
    s.set_mapper("sinusoidal", {"wavelength": 3.0})
    req = s.request(24)
    vol = render_volumes(req)
    ref = req.recipe.render([req.obj], req.shape)
    assert vol.label.any(), name
    np.testing.assert_array_equal(vol.image, ref.image.numpy())
    np.testing.assert_array_equal(vol.label, ref.label.numpy())


def test_shape_knob_changes_the_field_as_the_engine_says() -> None:
    s = DesignState(primitive="sphere")
    s.set_knob("radius", 0.2)
    small = render_volumes(s.request(32))
    s.set_knob("radius", 0.35)
    big = render_volumes(s.request(32))
    # a sphere of radius r * 96 reference voxels: volume fraction (4/3 pi r^3) of the cube
    for v, r in ((small, 0.2), (big, 0.35)):
        assert v.label.mean() == pytest.approx(4 / 3 * np.pi * r**3, rel=0.08)


def test_isosurface_lies_on_the_sphere() -> None:
    s = DesignState(primitive="sphere")
    s.set_knob("radius", 0.3)
    s.set_pose(translation=(0.1, 0.0, -0.05))
    req = s.request(40)
    surf = isosurface(render_volumes(req).phi, req.recipe.shape)
    centre = np.array([0.5 + 0.1, 0.5, 0.5 - 0.05]) * 96  # world frame: 0..96
    dist = np.linalg.norm(surf.vertices - centre, axis=1)
    step = 96 / 40
    assert np.abs(dist - 0.3 * 96).max() < step
    scale, translate = frame((96, 96, 96), (40, 40, 40))
    assert scale == (step,) * 3 and translate == (step / 2,) * 3


@pytest.mark.parametrize(
    ("name", "disp"),
    [("sphere", None), ("polygon_6_prism", ("ridge", {"amplitude": 0.04, "frequency": 12.0})),
     ("torus", ("turbulence", {}))],
)
def test_isosurface_equals_the_full_grid_mesh(name: str, disp) -> None:
    """Culled voxels next to the surface hold the field, not a far value: the mesh is the
    one marching cubes gives on the full grid's field (it snapped up to ~2 voxels inwards)."""
    s = DesignState(primitive=name)
    s.set_pose(translation=(0.05, -0.03, 0.02), angles_deg=(20, -35, 50))
    if disp:
        s.set_displacement(*disp)
    req = s.request(40)
    idx, pts = req.recipe.voxels(req.obj, req.shape, torch.device("cpu"), full_grid=True)
    full = torch.empty(int(np.prod(req.shape)))
    full[idx] = req.recipe.field(req.obj, pts)
    vol = render_volumes(req)
    phi = surface_field(vol)
    got = isosurface(phi, req.recipe.shape)
    want = isosurface(full.view(req.shape), req.recipe.shape)
    assert len(got.vertices) == len(want.vertices) > 100
    np.testing.assert_allclose(np.sort(got.vertices, 0), np.sort(want.vertices, 0), atol=1e-4)
    assert torch.equal(phi > 0, full.view(req.shape) > 0)  # the sign everywhere: the same label
    assert torch.equal(vol.phi > 0, phi > 0) and (vol.phi != phi).any()  # vol.phi untouched


def test_isosurface_of_an_empty_field_is_empty() -> None:
    assert isosurface(torch.ones(8, 8, 8), (8, 8, 8)).empty


def test_texture_and_mapper_change_image_as_the_engine_says() -> None:
    s = DesignState(primitive="polygon_6_prism")
    plain = render_volumes(s.request(32))
    s.set_displacement("sharp_max", {"amplitude": 0.06, "frequency": 15.0})
    rough = render_volumes(s.request(32))
    assert (rough.label != plain.label).any()
    assert rough.label.sum() < plain.label.sum()  # sharp_max >= 0 moves the surface inwards
    s.set_mapper("modular", {"modulus": 5, "width": 1.0})
    banded = render_volumes(s.request(32))
    np.testing.assert_array_equal(banded.label, rough.label)  # the mapper leaves the shape
    assert len(np.unique(banded.image[banded.label > 0])) >= 4  # 5 bands of intensity


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.set_knob("radius", 3.0), "outside"),
        (lambda s: s.set_knob("radius", float("nan")), "outside"),
        (lambda s: s.set_knob("height", 0.1), "allowed: radius"),
        (lambda s: s.set_displacement("ridgee"), "Did you mean 'ridge'"),
        (lambda s: s.set_mapper("modular", {"modulus": 1}), "modulus"),
        (lambda s: s.set_mapper("linear", {"slop": 1.0}), "slope"),
        (lambda s: s.set_pose(translation=(0.0, 9.0, 0.0)), "translation"),
        (lambda s: s.set_pose(translation=(0.1, 0, 0), shear=(0, 0, 2.0)), "shear"),
        (lambda s: s.set_pose(angles_deg=("a", 0, 0)), "angles_deg"),
        (lambda s: s.set_knob("radius", "wide"), "could not convert"),
        (lambda s: s.set_displacement(NONE, space="screen"), "object, world"),
    ],
)
def test_bad_design_input_is_refused_with_the_reason(call, match: str) -> None:
    s = DesignState(primitive="sphere")
    before = s.settings()
    with pytest.raises(ValueError, match=match):
        call(s)
    assert s.settings() == before


def load_preset_names(include: list[str]) -> list[str]:
    from fdif_core.presets.preset import parse_preset

    return parse_preset({"classes": {"include": include}}).classes.names()


def test_vertex_count_switches_class_within_the_family() -> None:
    s = DesignState(primitive="polygon_5_prism_cone_onion")
    s.set_knob("end_scale", 1.4)
    assert s.vertex_counts() == [3, 4, 5, 6, 7, 8, 9]
    s.set_vertex_count(9)
    assert s.primitive == "polygon_9_prism_cone_onion" and s.knobs["end_scale"] == 1.4
    with pytest.raises(ValueError, match="allowed: 3, 4"):
        s.set_vertex_count(12)
    assert DesignState(primitive="sphere").vertex_counts() == []


def test_compress_classes() -> None:
    assert compress_classes(load_preset("fdif-paper").classes.names()) == ["all"]
    basic = families()["basic"]
    assert compress_classes([*basic, "star_5_torus"]) == ["basic", "star_5_torus"]
    assert compress_classes(["star_5_torus", *basic[::-1]])[0] == "star_5_torus"
    mixed = ["star_5_torus", *basic]
    assert load_preset_names(compress_classes(mixed)) == mixed


@pytest.mark.parametrize("name", ["quickstart", "fdif-paper", "primgeoseg"])
def test_draft_keeps_shipped_presets(name: str) -> None:
    preset = load_preset(name)
    out = PresetDraft(base=preset).to_preset()
    a, b = preset.recipe(), out.recipe()
    assert a.label_names == b.label_names
    assert [m.name for m in a.mappers] == [m.name for m in b.mappers]
    assert [d.name for d in a.displacements] == [d.name for d in b.displacements]
    assert out.model_dump(exclude={"classes"}) == preset.model_dump(exclude={"classes"})


def test_draft_round_trip_with_designed_instances(tmp_path) -> None:
    d = PresetDraft()
    design = DesignState(primitive="star_6_prism_cone")
    design.set_displacement("gradient_noise", {"amplitude": 0.05, "octaves": 2})
    design.set_mapper("floor", {"width": 2.0})
    d.add_instance("displacement", design.displacement_spec("my_noise"))
    d.add_instance("mapper", design.mapper_spec("my_floor"))
    d.set_enabled("mapper", "linear_slope_10.0", False)
    d.set_classes_text("basic, star_6_prism_cone")
    d.shape, d.per_volume, d.label_mode, d.seed = (40, 40, 40), 3, "multitask", 7  # >= patch
    path = tmp_path / "designed.yaml"
    d.save(path)
    preset = load_preset(path)
    assert preset.displacements.enabled[-1] == InstanceSpec(
        name="my_noise", family="gradient_noise", params=design.displacement_params
    )
    sample = preset.recipe().sample(0)
    assert sample.image.shape == (40, 40, 40) and set(sample.labels) == {
        "shape",
        "displacement",
        "mapper",
    }
    cli = subprocess.run(
        [sys.executable, "-m", "fdif_core", "presets", "validate", str(path)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    again = PresetDraft()
    again.load_file(path)
    assert again.settings() == d.settings()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("version: 1\nvolume: {shape: [8, 8]}\n", "volume.shape"),
        ("version: 1\nmappers: {enabled: [nope]}\n", "unknown mapper"),
        ("version: 1\nclasses: [unclosed\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['echo hi']\n", "not valid YAML"),
        ("- just a list\n", "mapping"),
    ],
)
def test_broken_presets_fail_with_the_reason(tmp_path, text: str, match: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    d = PresetDraft()
    before = d.settings()
    with pytest.raises(PresetError, match=match):
        d.load_file(path)
    assert d.settings() == before


def test_designed_class_ranges_steer_the_dataset() -> None:
    d = PresetDraft()
    d.set_classes_text("sphere")
    design = DesignState(primitive="polygon_5_prism_convex")
    design.set_knob("half_height", 0.4)
    design.set_knob("peak_scale", 2.5)
    ranges = d.add_design_class(design, spread=0.1)
    assert set(ranges) == {"radius", "half_height", "peak_scale", "neck"}
    assert ranges["half_height"] == pytest.approx((0.4 - 0.024, 0.4 + 0.024))
    recipe = d.to_preset().recipe()
    assert recipe.classes == ["sphere", "polygon_5_prism_convex"]
    objs = [o for i in range(6) for o in recipe.scene(i) if o.primitive != "sphere"]
    assert objs
    for o in objs:
        assert 0.376 <= o.params["half_height"] / recipe.G <= 0.424
        assert 2.3 <= o.params["knots"][1] <= 2.7
    with pytest.raises(ValueError, match="spread"):
        d.add_design_class(design, spread=3.0)


def test_instance_names_are_checked() -> None:
    d = PresetDraft()
    spec = DesignState().mapper_spec("linear_slope_10.0")
    with pytest.raises(ValueError, match="built-in"):
        d.add_instance("mapper", spec)
    with pytest.raises(ValueError, match="instance name"):
        d.add_instance("mapper", spec.model_copy(update={"name": " "}))


def test_the_studio_imports_nothing_from_training() -> None:
    """No studio module names fdif_core.training (the preset layer's own validators still
    reach its network registry when a preset with a pretrain: section is validated)."""
    import ast
    from pathlib import Path

    import fdif_studio

    root = Path(fdif_studio.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and "training" in (node.module or ""):
                found.append(f"{path.name}: {node.module}")
            elif isinstance(node, ast.Import):
                found += [f"{path.name}: {a.name}" for a in node.names if "training" in a.name]
    assert len(list(root.rglob("*.py"))) > 20 and found == []


def test_a_mapper_formula_of_position_bands_the_preview_along_x() -> None:
    s = DesignState(shape=(32, 32, 32))
    s.set_knob("radius", 0.4)
    s.set_mapper("expression", {"expr": "64 + 50 * sin(4 * x)"})
    req = s.request(32)
    vol = render_volumes(req)
    np.testing.assert_array_equal(vol.image, req.recipe.render([req.obj], req.shape).image)
    inside = vol.label > 0
    others = [tuple(b for b in range(3) if b != a) for a in range(3)]
    mean = [(vol.image * inside).sum(o) / np.maximum(inside.sum(o), 1) for o in others]
    assert mean[0][8:24].max() - mean[0][8:24].min() > 40  # bands along x
    assert mean[1][8:24].std() < 3 and mean[2][8:24].std() < 3
