"""The studio in a real napari viewer (run under Xvfb): widgets drive the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
if not (
    os.environ.get("DISPLAY")
    or os.environ.get("WAYLAND_DISPLAY")
    or os.environ.get("QT_QPA_PLATFORM") == "offscreen"
):
    pytest.skip("needs a display: run under xvfb-run", allow_module_level=True)

import fdif_studio
from fdif_core import load_preset
from fdif_core.engine.compose import ObjectSpec
from fdif_core.engine.pose import Pose
from fdif_core.presets.preset import parse_preset
from fdif_studio import panels as W
from fdif_studio.panels.common import DESIGN_LAYERS, LatestRunner, session_for

pytestmark = [pytest.mark.gui, pytest.mark.xdist_group("napari")]
MANIFEST = Path(fdif_studio.__file__).with_name("napari.yaml")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the 2-core machine is shared: keep renders quick
    yield
    torch.set_num_threads(n)


@pytest.fixture
def errors():
    """Messages of the napari error notifications shown during the test."""
    from napari.utils.notifications import NotificationSeverity, notification_manager

    start = len(notification_manager.records)
    yield lambda: [
        str(n.message)
        for n in notification_manager.records[start:]
        if n.severity == NotificationSeverity.ERROR
    ]


def wait(qtbot, widget, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)


PLAIN = {"knobs": {"radius": 0.275}, "displacement": "none", "displacement_params": {},
         "mapper": "linear", "mapper_params": {"slope": 10.0}}  # fmt: skip
"""A plain sphere (the tests' starting design; a new session opens with a texture)."""


def small_designer(viewer, qtbot, plain: bool = True) -> W.Designer:
    if plain:
        session_for(viewer).design.restore(PLAIN)
    d = W.Designer(viewer)
    d._drag_res.value, d._full_res.value = 32, 48
    wait(qtbot, d)
    d.request_render(full=True)
    wait(qtbot, d)
    return d


def assert_layers_match_engine(viewer, sample) -> None:
    np.testing.assert_array_equal(viewer.layers["design image"].data, sample.image.numpy())
    np.testing.assert_array_equal(viewer.layers["design label"].data, sample.label.numpy())


def engine_render(d: W.Designer):
    req = d.state.request(48)
    return req.recipe.render([req.obj], req.shape)


def test_runner_runs_off_the_ui_thread_and_drops_stale_requests(qtbot):
    import threading
    import time

    seen, threads = [], []

    def work(request):
        threads.append(threading.current_thread())
        time.sleep(0.1)
        yield request

    runner = LatestRunner(work, seen.append)
    for i in range(5):  # a drag: five values while the first one renders
        runner.submit(i)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert seen == [0, 4] and runner.dropped == 3
    assert threading.main_thread() not in threads


def test_designer_layers_follow_shape_displacement_and_mapper(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    assert set(DESIGN_LAYERS[:2]) <= {layer.name for layer in viewer.layers}
    first = viewer.layers["design label"].data.copy()

    # shape parameter: compare with the engine driven directly (no studio code); the design
    # lives in the edited preset's frame (quickstart's voxels of 1 mm), like the Scene; it
    # renders that frame on the Designer's 48³ grid
    frame = tuple(load_preset("quickstart").volume.shape)
    assert d.state.shape == frame
    d.shape_widgets["radius"].value = 0.33
    wait(qtbot, d)
    preset = parse_preset(
        {
            "volume": {"shape": list(frame)},
            "classes": {"include": ["sphere"]},
            "displacements": {"enabled": []},
            "mappers": {"enabled": [{"name": "m", "family": "linear", "params": {"slope": 10}}]},
        }
    )
    direct = preset.recipe().render(
        [ObjectSpec("sphere", {"radius": 0.33 * frame[0]}, Pose.identity(), 0, -1)], (48, 48, 48)
    )
    assert_layers_match_engine(viewer, direct)
    assert direct.label.sum() > first.sum()
    assert viewer.layers["design image"].scale[0] == pytest.approx(frame[0] / 48)  # mm / voxel

    # displacement family and parameter
    d._disp_family.value = "sharp_max"
    wait(qtbot, d)
    d.displacement_widgets["amplitude"].value = 0.08
    wait(qtbot, d)
    assert d.state.displacement_params["amplitude"] == pytest.approx(0.08)
    rough = engine_render(d)
    assert_layers_match_engine(viewer, rough)
    assert rough.label.sum() < direct.label.sum()  # sharp_max >= 0 erodes the sphere

    # mapper family: intensities change, the shape does not
    d._map_family.value = "modular"
    wait(qtbot, d)
    banded = engine_render(d)
    assert_layers_match_engine(viewer, banded)
    assert torch.equal(banded.label, rough.label) and not torch.equal(banded.image, rough.image)

    # another class from another family
    d._family.value = "star_prism"
    wait(qtbot, d)
    assert d.state.primitive == "star_5_prism"
    assert set(d.shape_widgets) == {"vertex_count", "radius", "half_height", "star_w"}
    d.shape_widgets["star_w"].value = 0.3
    wait(qtbot, d)
    d.shape_widgets["vertex_count"].value = 8  # the vertex count picks the sibling class
    wait(qtbot, d)
    assert d.state.primitive == "star_8_prism" and d._primitive.value == "star_8_prism"
    assert d.state.knobs["star_w"] == pytest.approx(0.3)
    assert_layers_match_engine(viewer, engine_render(d))


def test_isosurface_screenshot_shows_and_follows_the_shape(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    d = small_designer(viewer, qtbot)
    assert DESIGN_LAYERS[2] not in viewer.layers  # 2D: no isosurface extracted
    viewer.dims.ndisplay = 3
    wait(qtbot, d)
    assert [viewer.layers[n].visible for n in DESIGN_LAYERS] == [False, False, True]
    viewer.reset_view()
    viewer.camera.zoom *= 0.5  # room for the shape to grow

    def lit() -> tuple[np.ndarray, float]:
        qtbot.wait(50)
        shot = viewer.screenshot(size=(300, 300), canvas_only=True, flash=False)[..., :3].astype(
            int
        )
        background = shot[0, 0]
        mask = np.abs(shot - background).sum(-1) > 30
        return mask, float(mask.mean())

    surface = viewer.layers["design isosurface"]
    assert len(surface.data[1]) > 100
    mask0, frac0 = lit()
    assert frac0 > 0.02, "the isosurface should cover part of the canvas"
    d.shape_widgets["radius"].value = 0.38
    wait(qtbot, d)
    mask1, frac1 = lit()
    assert frac1 > frac0 * 1.3
    assert (mask0 != mask1).mean() > 0.01


def test_scene_renders_the_preset_sample_with_class_names(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    scene = W.Scene(viewer)
    scene._auto.value = False
    scene._res.value = 32
    scene._index.value = 3
    scene.render()
    wait(qtbot, scene)
    recipe = load_preset("quickstart").recipe()
    ref = recipe.sample(3, shape=(32, 32, 32))
    image, label = viewer.layers["scene image"], viewer.layers["scene label"]
    np.testing.assert_array_equal(image.data, ref.image.numpy())
    np.testing.assert_array_equal(label.data, ref.label.numpy())
    assert list(label.features["class"]) == recipe.label_names
    value = int(np.bincount(ref.label.numpy().ravel())[1:].argmax()) + 1
    idx = np.argwhere(ref.label.numpy() == value)[0]
    world = np.asarray(label.translate) + idx * np.asarray(label.scale)
    viewer.dims.set_point(0, world[0])  # show the slice through that voxel, then hover it
    status = label.get_status(tuple(world), world=True, dims_displayed=[1, 2])
    assert recipe.label_names[value] in str(status)
    assert tuple(label.translate) == tuple(image.translate)  # outlines over the image
    assert label.contour == 1 and image.colormap.name == "gray"
    scene._layout.value = "side by side"
    assert label.translate[-1] > image.translate[-1] + 32

    # editing the preset re-renders the shown sample (auto-render on)
    scene._auto.value = True
    editor = W.PresetEditor(viewer)
    editor._per_volume.value = 2
    wait(qtbot, scene)
    fewer = editor.draft.to_preset().recipe().sample(3, shape=(32, 32, 32))
    assert len(fewer.objects) == 2
    np.testing.assert_array_equal(label.data, fewer.label.numpy())


def _click(button) -> None:
    button.native.click()


def _tree_item(editor: W.PresetEditor, name: str):
    for i in range(editor.classes.topLevelItemCount()):
        parent = editor.classes.topLevelItem(i)
        for j in range(parent.childCount()):
            if parent.child(j).text(0) == name:
                return parent.child(j)
    raise KeyError(name)


def _list_item(lst, name: str):
    from qtpy.QtCore import Qt

    for i in range(lst.count()):
        if lst.item(i).data(Qt.UserRole) == name:
            return lst.item(i)
    raise KeyError(name)


def test_preset_round_trip_through_the_widgets(make_napari_viewer, qtbot, tmp_path, errors):
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer()
    editor = W.PresetEditor(viewer)
    design = session_for(viewer).design
    editor._shipped.value = "fdif-paper"
    _click(editor._load_shipped)
    assert len(editor.checked_classes()) == 109
    _tree_item(editor, "torus").setCheckState(0, Qt.Unchecked)
    _list_item(editor.mappers, "inverse_cube").setCheckState(Qt.Unchecked)
    design.set_displacement("gradient_noise", {"amplitude": 0.04, "octaves": 2})
    design.set_mapper("sinusoidal", {"wavelength": 2.5})
    editor._instance_name.value = "my_noise"
    _click(editor._add_disp)
    editor._instance_name.value = "my_waves"
    _click(editor._add_map)
    design.set_primitive("star_5_torus")
    design.set_knob("minor_ratio", 0.6)
    _click(editor._add_class)
    for w in editor._shape:
        w.value = 32
    editor._per_volume.value = 4
    editor._mode.value = "multitask"
    editor._name.value = "designed"
    saved = editor.draft.settings()
    path = tmp_path / "designed.yaml"
    editor._save_path.value = path
    _click(editor._save)
    assert errors() == []

    preset = load_preset(path)  # validates
    assert preset.name == "designed" and preset.objects.per_volume == 4
    assert "torus" not in preset.classes.names() and len(preset.classes.names()) == 108
    mappers = [m if isinstance(m, str) else m.name for m in preset.mappers.enabled]
    assert "inverse_cube" not in mappers and mappers[-1] == "my_waves"
    cli = subprocess.run(
        [sys.executable, "-m", "fdif_core", "presets", "validate", str(path)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert preset.classes.ranges["star_5_torus"]["minor_ratio"] == pytest.approx((0.555, 0.645))
    out = tmp_path / "sample"
    cli = subprocess.run(
        [sys.executable, "-m", "fdif_core", "sample", "--preset", str(path), "--out", str(out),
         "--shape", "16", "16", "16"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    names = {p.name for p in out.iterdir()}
    assert {"image.nii.gz", "label.nii.gz", "label_mapper.nii.gz", "preview.png"} <= names

    _click(editor._load_shipped)  # back to fdif-paper, then load the saved file
    assert editor.draft.settings() != saved
    editor._file.value = path
    _click(editor._load_file)
    assert editor.draft.settings() == saved
    assert _tree_item(editor, "torus").checkState(0) == Qt.Unchecked
    assert _list_item(editor.mappers, "my_waves").checkState() == Qt.Checked
    assert [w.value for w in editor._shape] == [32, 32, 32]
    assert editor._mode.value == "multitask" and editor._name.value == "designed"


def test_bad_input_notifies_and_the_viewer_keeps_working(
    make_napari_viewer, qtbot, tmp_path, errors
):
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    editor = W.PresetEditor(viewer)
    export = W.Export(viewer)
    before = editor.draft.settings()

    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nvolume: {shape: [0, 8, 8]}\n")
    editor._file.value = broken
    _click(editor._load_file)
    broken.write_text("classes: [unclosed\n")
    _click(editor._load_file)
    editor._classes_text.value = "sphere, torsu"
    _click(editor._classes_apply)
    editor._instance_name.value = "   "
    _click(editor._add_map)
    export._dir.value = tmp_path / "out"
    _click(export._go)  # no scene rendered yet
    msgs = errors()
    assert any("volume.shape" in m for m in msgs), msgs
    assert any("not valid YAML" in m for m in msgs), msgs
    assert any("Did you mean 'torus'" in m for m in msgs), msgs
    assert any("instance name" in m for m in msgs), msgs
    assert any("no scene sample" in m for m in msgs), msgs
    assert editor.draft.settings() == before  # nothing half-applied

    # the viewer still works: the designer keeps rendering
    old = viewer.layers["design label"].data.sum()
    d.shape_widgets["radius"].value = 0.4
    wait(qtbot, d)
    assert viewer.layers["design label"].data.sum() > old


def test_export_and_sample_data(make_napari_viewer, qtbot, tmp_path):
    import nibabel as nib
    import npe2

    viewer = make_napari_viewer()
    scene = W.Scene(viewer)
    scene._auto.value = False
    scene._res.value = 32
    scene.render()
    wait(qtbot, scene)
    paths = W.Export(viewer).export(tmp_path, "s0")
    assert [p.name for p in paths] == [
        "s0_image.nii.gz", "s0_label.nii.gz", "s0_montage.png", "s0_design.yaml",
        "s0_preset.yaml"
    ]  # fmt: skip
    saved = load_preset(paths[4])  # the strict loader reads the exported preset back
    assert saved.name == "s0" and saved.classes.names() == load_preset("quickstart").classes.names()
    img = np.asarray(nib.load(paths[0]).dataobj)
    np.testing.assert_array_equal(img, viewer.layers["scene image"].data)
    edge = load_preset("quickstart").volume.shape[0]
    assert nib.load(paths[0]).header.get_zooms() == (edge / 32,) * 3  # the preset's 1 mm at 32³
    lab = np.asarray(nib.load(paths[1]).dataobj)
    np.testing.assert_array_equal(lab, viewer.layers["scene label"].data)

    # the manifest is valid, its commands resolve, and the sample opens in one call
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "fdif-studio"
    for cmd in manifest.contributions.commands:
        module, attr = cmd.python_name.split(":")
        assert callable(getattr(__import__(module, fromlist=[attr]), attr)), cmd.id
    assert next(w.display_name for w in manifest.contributions.widgets) == "FDIF Studio"
    pm = npe2.PluginManager.instance()
    if "fdif-studio" not in pm:  # found through the napari.manifest entry point, or not
        pm.register(manifest)
    ids = {c.id for c in pm.get_manifest("fdif-studio").contributions.commands}
    assert ids == {c.id for c in manifest.contributions.commands}
    viewer.open_sample("fdif-studio", "fdif_sample")
    assert {"FDIF image", "FDIF label"} <= {layer.name for layer in viewer.layers}
    assert viewer.layers["FDIF image"].data.shape == tuple(load_preset("quickstart").volume.shape)


def test_plugin_opens_from_napari_with_all_panels(make_napari_viewer, qtbot):
    import npe2

    viewer = make_napari_viewer()
    pm = npe2.PluginManager.instance()
    if "fdif-studio" not in pm:
        pm.register(npe2.PluginManifest.from_file(MANIFEST))
    # what `napari -w fdif-studio` and the Plugins menu do: the first widget, FDIF Studio
    _, studio = viewer.window.add_plugin_dock_widget("fdif-studio")
    assert isinstance(studio, W.Studio)
    tabs = [studio.tabText(i) for i in range(studio.count())]
    assert tabs == ["Designer", "Gallery", "Scene", "Preset", "View", "Scan", "Export"]
    wait(qtbot, studio.designer, timeout=60_000)
    assert session_for(viewer) is studio.designer.session is studio.preset_editor.session
    assert set(DESIGN_LAYERS[:2]) <= {layer.name for layer in viewer.layers}
    _, designer = viewer.window.add_plugin_dock_widget("fdif-studio", "Designer")
    assert designer.state is studio.designer.state  # one design per viewer
    wait(qtbot, designer, timeout=60_000)
