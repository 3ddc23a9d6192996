"""The new controls in a real viewer (under Xvfb): views, plots, formulas, undo, gallery,
scans; screenshots are checked by their pixels."""

from __future__ import annotations

import math
import os

import nibabel as nib
import numpy as np
import pytest
import torch

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
if not (os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen"):
    pytest.skip("needs a display: run under xvfb-run", allow_module_level=True)

from fdif_core.presets import load_preset
from fdif_studio import panels as W
from fdif_studio.model import families
from fdif_studio.panels.common import DESIGN_LAYERS, session_for
from fdif_studio.panels.layers import CAMERA_3D

from .test_widgets import (  # noqa: F401
    _one_thread,
    assert_layers_match_engine,
    engine_render,
    small_designer,
    wait,
)
from .test_widgets import errors as errors

pytestmark = [pytest.mark.gui, pytest.mark.xdist_group("napari")]


def shot(viewer, qtbot) -> np.ndarray:
    qtbot.wait(60)
    return viewer.screenshot(size=(320, 320), canvas_only=True, flash=False)[..., :3].astype(int)


def colourful(px: np.ndarray) -> float:
    """Fraction of pixels that are clearly not gray (label colours, orange surfaces)."""
    return float(((px.max(-1) - px.min(-1)) > 40).mean())


def test_views_read_like_a_scan(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer(show=True)
    d = small_designer(viewer, qtbot)
    views = W.Views(viewer)
    image, label = (viewer.layers[n] for n in DESIGN_LAYERS[:2])
    assert image.colormap.name == "gray" and tuple(image.contrast_limits) == (0, 128)
    assert label.contour == 1 and DESIGN_LAYERS[2] not in viewer.layers  # no isosurface in 2D
    viewer.reset_view()
    outline = shot(viewer, qtbot)
    lit = outline.sum(-1) > 30
    assert lit.mean() > 0.05 and colourful(outline) < 0.1  # a gray image, thin outlines
    views._labels.value = "filled"
    filled = shot(viewer, qtbot)
    assert label.contour == 0 and colourful(filled) > 3 * colourful(outline)
    views._labels.value = "outline"

    views._width.value, views._level.value = 40.0, 100.0  # window / level
    assert tuple(image.contrast_limits) == (80.0, 120.0)
    narrow = shot(viewer, qtbot)
    assert narrow.mean() < outline.mean()  # 0..80 now black
    views._window.value = "CT lung"
    assert tuple(image.contrast_limits) == (-1350.0, 150.0)
    views._window.value = "preset range"
    assert tuple(image.contrast_limits) == (0.0, 128.0)

    viewer.dims.ndisplay = 3  # 3D: the isosurface (extracted now), alone, oblique camera
    wait(qtbot, d)
    surface = viewer.layers[DESIGN_LAYERS[2]]
    assert surface.visible and not image.visible and not label.visible
    assert viewer.camera.angles == pytest.approx(CAMERA_3D)
    three_d = shot(viewer, qtbot)
    assert 0.02 < (np.abs(three_d - three_d[0, 0]).sum(-1) > 30).mean() < 0.9
    assert colourful(three_d) > 0.02  # the orange surface
    viewer.dims.ndisplay = 2
    assert not surface.visible and image.visible and label.contour == 1

    def window() -> np.ndarray:
        qtbot.wait(100)
        return viewer.screenshot(canvas_only=False, flash=False)[..., :3].astype(int)

    single = window()
    views._planes.value = True  # three planes: linked orthogonal viewers (shown next tick)
    qtbot.waitUntil(views.planes_shown, timeout=10_000)
    planes = window()
    if planes.shape == single.shape:
        assert (np.abs(planes - single).sum(-1) > 30).mean() > 0.05  # the two new views
    views._planes.value = False
    qtbot.waitUntil(lambda: not views.planes_shown(), timeout=10_000)


def test_design_and_scene_share_one_physical_frame(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    scene = W.Scene(viewer)
    scene._auto.value, scene._res.value = False, 32
    scene.render()
    wait(qtbot, scene)
    design, sample = viewer.layers["design image"], viewer.layers["scene image"]

    def box(layer) -> np.ndarray:  # voxel-centre extent widened by half a voxel: the mm box
        half = 0.5 * np.asarray(layer.scale)
        return np.asarray(layer.extent.world) + np.stack([-half, half])

    np.testing.assert_allclose(box(design), box(sample))
    frame = load_preset("quickstart").volume.shape  # the edited preset's voxels of 1 mm
    np.testing.assert_allclose(box(design), [[0, 0, 0], list(frame)])
    assert d.state.shape == tuple(frame)


def test_plots_follow_the_design(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer(show=True)
    plots = W.Plots(viewer)
    viewer.window.add_dock_widget(plots, area="right")
    d = small_designer(viewer, qtbot)
    qtbot.waitUntil(lambda: plots.drawn > 0 and not plots.busy, timeout=10_000)
    session = session_for(viewer)
    req = session.request
    x, y = (np.asarray(v) for v in plots.axes[0].lines[0].get_data())
    np.testing.assert_array_equal(y, req.recipe.mappers[0](torch.from_numpy(x)).numpy())
    drawn = plots.drawn
    d._map_family.value = "sinusoidal"
    d._disp_family.value = "ridge"
    wait(qtbot, d)
    qtbot.waitUntil(lambda: plots.drawn > drawn and not plots.busy, timeout=10_000)
    y2 = np.asarray(plots.axes[0].lines[0].get_ydata())
    assert len(np.unique(np.round(y2))) > 20  # cosine bands, not a ramp
    assert "amplitude" in plots.axes[1].get_title()
    assert len(plots.axes[2].patches) >= 1  # the design's histogram
    plots.canvas.draw()
    px = np.asarray(plots.canvas.buffer_rgba())[..., :3].astype(int)
    orange = (px[..., 0] > 200) & (px[..., 1] > 120) & (px[..., 2] < 90)
    assert orange.mean() > 0.002 and len(np.unique(px.reshape(-1, 3), axis=0)) > 50


def test_formulas_typed_in_the_designer_preview_live(make_napari_viewer, qtbot, errors) -> None:
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    d._disp_family.value = "expression"
    wait(qtbot, d)
    box = {w.name: w for w in d._disp_params}
    assert set(box) == {"expr", "numbers", "error"}
    box["expr"].value = "a * sin(f * x) * cos(f * y)"
    box["numbers"].value = "a=0.05, f=20"
    wait(qtbot, d)
    assert d.state.displacement_params == {"expr": "a * sin(f * x) * cos(f * y)", "a": 0.05,
                                           "f": 20.0}  # fmt: skip
    shown = viewer.layers["design label"].data.copy()
    np.testing.assert_array_equal(shown, engine_render(d).label.numpy())
    box["expr"].value = "x.__class__"  # refused inline, one line; nothing changes
    assert "attribute access 'x.__class__'" in box["error"].value
    assert "\n" not in box["error"].value and errors() == []
    wait(qtbot, d)
    np.testing.assert_array_equal(viewer.layers["design label"].data, shown)
    d._map_family.value = "expression"
    wait(qtbot, d)
    mbox = {w.name: w for w in d._map_params}
    mbox["expr"].value = "where(d > -2, 120, 40)"
    wait(qtbot, d)
    values = set(np.unique(viewer.layers["design image"].data))
    assert values <= {0, 40, 120} and {40, 120} <= values
    np.testing.assert_array_equal(viewer.layers["design image"].data,
                                  engine_render(d).image.numpy())  # fmt: skip


def test_undo_redo_and_reopening_an_exported_design(make_napari_viewer, qtbot, tmp_path) -> None:
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    r0 = d.state.knobs["radius"]
    d.shape_widgets["radius"].value = 0.4
    wait(qtbot, d)
    big = viewer.layers["design label"].data.sum()
    assert d.undo()
    wait(qtbot, d)
    assert d.state.knobs["radius"] == r0 and d.shape_widgets["radius"].value == pytest.approx(r0)
    assert viewer.layers["design label"].data.sum() < big
    assert d.redo()
    wait(qtbot, d)
    assert viewer.layers["design label"].data.sum() == big

    d.pose_widgets["angles_deg1"].value = 40.0
    wait(qtbot, d)
    paths = W.Export(viewer).export(tmp_path, "mine", "design")
    saved = d.state.settings()
    d._family.value = "star_prism"
    wait(qtbot, d)
    assert d.state.settings() != saved
    d._open_path.value = paths[3]
    d._open.native.click()
    wait(qtbot, d)
    assert d.state.settings() == saved and d.pose_widgets["angles_deg1"].value == 40.0
    np.testing.assert_array_equal(viewer.layers["design label"].data,
                                  engine_render(d).label.numpy())  # fmt: skip


def test_gallery_picks_a_class_by_eye(make_napari_viewer, qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FDIF_STUDIO_CACHE", str(tmp_path))
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    g = W.Gallery(viewer, threaded=False)
    assert len(g.items) == 113  # the 109 FDIF classes and PrimGeoSeg's 4 ellipse prisms
    g.pending = ["sphere", "torus", "star_6_prism_convex"]
    g.load()
    assert not g.items["torus"].icon().isNull() and g.items["cone"].icon().isNull()
    assert len(list((tmp_path / "thumbnails").glob("*.png"))) == 3
    g.search.setText("star 6")
    shown = g.filter()
    assert shown and all("star" in n and "6" in n for n in shown) and "star_6_prism_convex" in shown
    assert g.items["torus"].isHidden() and not g.items["star_6_prism_convex"].isHidden()
    g.search.setText("")
    g.family.setCurrentText(g.family_of["torus"])
    assert set(g.filter()) == set(families()[g.family_of["torus"]])
    g._on_click(g.items["star_6_prism_convex"])
    wait(qtbot, d)
    assert d.state.primitive == "star_6_prism_convex" and d._primitive.value == d.state.primitive
    np.testing.assert_array_equal(viewer.layers["design label"].data,
                                  engine_render(d).label.numpy())  # fmt: skip


def _write_scan(path, wavelength_mm: float = 6.0) -> np.ndarray:
    """A rotated, anisotropic scan whose texture has a known wavelength along data axis 2."""
    theta = math.radians(20)
    aff = np.array([[math.cos(theta), -math.sin(theta), 0, -20],
                    [math.sin(theta), math.cos(theta), 0, 5], [0, 0, 1.5, 10],
                    [0, 0, 0, 1]])  # fmt: skip
    k = np.arange(32) * 1.5
    data = 300 + 80 * np.sin(2 * np.pi * k / wavelength_mm)[None, None, :] * np.ones((40, 40, 1))
    data += np.random.default_rng(0).normal(0, 3, data.shape)
    nib.save(nib.Nifti1Image(data.astype(np.float32), aff), path)
    return aff


def test_real_scan_region_statistics_and_match(make_napari_viewer, qtbot, tmp_path) -> None:
    import npe2

    from .test_widgets import MANIFEST

    viewer = make_napari_viewer(show=True)
    d = small_designer(viewer, qtbot)
    aff = _write_scan(tmp_path / "ct.nii.gz")
    pm = npe2.PluginManager.instance()
    if "fdif-studio" not in pm:
        pm.register(npe2.PluginManifest.from_file(MANIFEST))
    [layer] = viewer.open(str(tmp_path / "ct.nii.gz"), plugin="fdif-studio")
    np.testing.assert_allclose(layer.affine.affine_matrix, aff)  # rotation kept
    assert layer.colormap.name == "gray"

    scans = W.Scans(viewer)
    scans._scan.value = layer.name
    region = scans.new_region("shapes")
    region.add_rectangles(np.array([[20, 4, 2], [20, 4, 29], [20, 35, 29], [20, 35, 2]], float))
    measured = scans.measure()
    assert measured.mask.sum() == 32 * 28 and measured.mask[20].sum() == 32 * 28
    assert measured.stats.wavelength == pytest.approx(6.0, rel=0.15)
    assert measured.stats.mean == pytest.approx(300, abs=10)
    assert "region" in scans._stats.value and "design" in scans._stats.value

    plots = W.Plots(viewer)
    m = scans.match()
    wait(qtbot, d)
    assert m.after.spectrum <= m.before.spectrum  # the texture fit (tests/studio/test_compare.py)
    qtbot.waitUntil(lambda: not plots.busy and plots.drawn > 0, timeout=10_000)
    plots.redraw()
    labels = [ln.get_label() for ln in plots.axes[2].lines]
    assert labels == ["region", "before", "after"]
    px = shot(viewer, qtbot)
    assert (px.sum(-1) > 30).mean() > 0.05  # the scan is drawn


def test_geometry_switch_opens_the_onion_tube_as_one_undo_step(make_napari_viewer, qtbot) -> None:
    from fdif_core.engine.sdf.library import PRIMITIVES

    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    name = "polygon_5_prism_onion"
    d._family.value = PRIMITIVES.get(name).family
    d._primitive.value = name
    wait(qtbot, d)
    d.request_render(full=True)
    wait(qtbot, d)
    assert d._geometry.value == d.state.geometry == "exact"
    label = viewer.layers["design label"]
    closed = label.data.copy()
    axis = closed.shape[0] // 2  # object z is the last array axis, unrotated
    assert closed[axis, axis, :].any()  # the exact shell has caps
    steps = len(d.history._past)

    d._geometry.value = "authors"
    wait(qtbot, d)
    assert d.state.geometry == "authors"
    tube = label.data.copy()
    assert tube.any() and not tube[axis, axis, :].any()  # open at both ends
    assert not np.array_equal(tube, closed)
    assert_layers_match_engine(viewer, engine_render(d))
    assert d.session.request.obj.params["geometry"] == "authors"
    assert len(d.history._past) == steps + 1
    assert d.history._past[-1]["geometry"] == "authors"

    assert d.undo()
    wait(qtbot, d)
    assert d.state.geometry == d._geometry.value == "exact"
    np.testing.assert_array_equal(label.data, closed)
