"""The Designer and Plots of round two (under Xvfb): one x axis everywhere, plots that do
not stack axes, formulas that render once typing pauses, the displacement warning line,
a first design that shows a texture, zoom to the object, bursts rendered coalesced."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
if not (os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen"):
    pytest.skip("needs a display: run under xvfb-run", allow_module_level=True)

from fdif_studio import panels as W
from fdif_studio.model import analysis, render
from fdif_studio.model.checks import FACTOR
from fdif_studio.panels import layers
from fdif_studio.panels.common import session_for

from .test_widgets import _one_thread, small_designer, wait  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.xdist_group("napari")]


def _type_formula(d: W.Designer, kind: str, expr: str, numbers: str = "") -> None:
    box = {w.name: w for w in (d._disp_params if kind == "displacement" else d._map_params)}
    box["numbers"].value = numbers
    box["expr"].value = expr


def test_sin_of_x_varies_along_the_axis_the_pose_plot_and_viewer_call_x(
    make_napari_viewer, qtbot
) -> None:
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    d._disp_family.value = "expression"
    wait(qtbot, d)
    _type_formula(d, "displacement", "0.08 * sin(12 * x)")
    wait(qtbot, d)
    label = np.asarray(viewer.layers["design label"].data) > 0
    # Δ = φ̃ with the formula − φ̃ without: it varies along array axis 0 (x) only
    req = session_for(viewer).request
    plain = replace(req, obj=replace(req.obj, displacement=-1))
    phi1, phi0 = (render.render_volumes(r).phi.numpy() for r in (req, plain))
    near = (np.abs(phi0) < 3) & (phi1 < 100)
    delta = np.where(near, phi1 - phi0, np.nan)
    across = np.nanmax(np.nanstd(delta.reshape(delta.shape[0], -1), axis=1))
    along = np.nanstd(np.nanmean(delta.reshape(delta.shape[0], -1), axis=1))
    assert along > 1.0 and across < 1e-3  # voxels
    assert viewer.dims.axis_labels == ("x", "y", "z")
    req = session_for(viewer).request
    along_x = analysis.displacement_profile(req, axis=0)
    along_y = analysis.displacement_profile(req, axis=1)
    assert along_x.amplitude > 1.0 and along_y.amplitude < 1e-3  # preset voxels
    labels = [w.label for w in d._pose][:3]
    assert labels == ["move x", "move y", "move z"]
    d.pose_widgets["translation0"].value = 0.1  # "move x" moves along array axis 0
    wait(qtbot, d)
    assert d.state.translation == (0.1, 0.0, 0.0)
    moved = np.argwhere(np.asarray(viewer.layers["design label"].data) > 0).mean(0)
    shift = moved - np.argwhere(label).mean(0)
    assert shift[0] > 3 and abs(shift[1]) < 1 and abs(shift[2]) < 1


def test_plot_redraws_never_stack_axes_and_name_units(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer(show=True)
    plots = W.Plots(viewer)
    viewer.window.add_dock_widget(plots, area="bottom")  # (hidden plots skip redraws)
    d = small_designer(viewer, qtbot)
    qtbot.waitUntil(lambda: plots.drawn > 0 and not plots.busy, timeout=10_000)
    s = session_for(viewer)
    rng = np.random.default_rng(0)
    img = rng.normal(40, 10, (20, 20, 20))
    s.region = analysis.measure_region(img, np.ones(img.shape, bool), (1.0, 1.0, 1.0))
    counts = []
    for _ in range(4):
        plots.redraw()
        counts.append(len(plots.figure.axes))
    assert counts == [4, 4, 4, 4]  # three plots and the region's twin axis, never more
    d._disp_family.value = "ridge"
    wait(qtbot, d)
    plots.redraw()
    titles = [ax.get_title() for ax in plots.axes]
    xlabels = [ax.get_xlabel() for ax in plots.axes]
    assert "amplitude (max |Δ|)" in titles[1] and " mm" in titles[1]
    assert all("mm" in x for x in xlabels[:2]) and "design intensity" in xlabels[2]


def test_a_typing_burst_renders_once_and_is_one_undo_step(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    d._disp_family.value = "expression"
    wait(qtbot, d)
    steps, shown = len(d.history._past), d.shown_version
    version = d.state.version
    box = {w.name: w for w in d._disp_params}
    for text in ("0", "0.0", "0.03*", "0.03*sin(", "0.03*sin(9*x)"):  # prefixes, some invalid
        box["expr"].value = text
    assert d.state.version == version  # nothing applied while typing
    wait(qtbot, d)
    assert d.state.displacement_params["expr"] == "0.03*sin(9*x)"
    assert d.state.version == version + 1 and len(d.history._past) == steps + 1
    assert d.shown_version == d.state.version > shown
    box["expr"].value = "0.03 *\n  sin(9 * x)"  # multi-line: line breaks are spaces
    wait(qtbot, d)
    assert box["error"].value == "" and "\n" in d.state.displacement_params["expr"]


def test_one_warning_line_when_a_displacement_swamps_or_empties(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    d._disp_family.value = "expression"
    wait(qtbot, d)
    _type_formula(d, "displacement", "1e30 * sin(x)")
    wait(qtbot, d)
    assert d.check is not None and d.check.after > FACTOR * d.check.before
    assert "swamps" in d._warning.value and "\n" not in d._warning.value
    _type_formula(d, "displacement", "0.3")  # moves the surface in by 0.3 G/2: nearly empty
    wait(qtbot, d)
    assert "empties" in d._warning.value
    _type_formula(d, "displacement", "0.01 * sin(10 * x)")
    wait(qtbot, d)
    assert d._warning.value == ""


def test_first_design_shows_a_texture_and_zooms_to_the_object(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    d = small_designer(viewer, qtbot, plain=False)
    assert d.state.displacement == "gradient_noise" and d.state.mapper == "sinusoidal"
    req = session_for(viewer).request
    prof = analysis.displacement_profile(req, axis=0)
    assert prof.amplitude >= 1.0  # the noise moves the surface by at least a voxel
    assert d._warning.value == "" and d.check is not None
    assert len(np.unique(viewer.layers["design image"].data)) > 20  # intensity texture
    d._disp_family.value = "ridge"  # the studio's ridge keeps a star prism whole
    d._family.value = "star_prism"
    wait(qtbot, d)
    assert d._warning.value == "", d._warning.value
    viewer.reset_view()
    before = viewer.camera.zoom
    assert layers.zoom_to_object(viewer) and viewer.camera.zoom > 1.2 * before


def test_a_burst_of_changes_renders_far_fewer_frames_ending_at_the_last(
    make_napari_viewer, qtbot
) -> None:
    viewer = make_napari_viewer()
    d = small_designer(viewer, qtbot)
    shown: list[int] = []
    d.session.connect("rendered", lambda: shown.append(d.session.volumes.version))
    n = 30
    for i in range(n):
        d.shape_widgets["radius"].value = 0.2 + 0.005 * i
    wait(qtbot, d)
    assert len(shown) < n / 3 and d.runner.dropped > n / 2
    assert shown[-1] == d.state.version and d.state.knobs["radius"] == pytest.approx(0.345)


def test_deprecation_warnings_never_reach_the_toasts(make_napari_viewer) -> None:
    import warnings

    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    W.Export(viewer)  # any studio panel
    start = len(notification_manager.records)
    with warnings.catch_warnings(record=True) as shown:
        warnings.warn("Layer.foo is deprecated since 0.5", DeprecationWarning, stacklevel=1)
        warnings.warn("bar is deprecated and will be removed", FutureWarning, stacklevel=1)
        warnings.warn("a real problem", UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["a real problem"]
    assert len(notification_manager.records) == start
