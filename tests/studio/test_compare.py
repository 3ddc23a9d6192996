"""The comparison view in a real napari viewer (under Xvfb): a scan region matched in the Scan
panel, region and fitted design side by side (same slice, window, mm scale), histograms and
spectra overlaid with the distances, and "apply" into the edited preset."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
if not (os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen"):
    pytest.skip("needs a display: run under xvfb-run", allow_module_level=True)

from fdif_studio import panels as W
from fdif_studio.panels.common import session_for
from fdif_studio.panels.compare import COLORS, open_compare

from .test_widgets import _one_thread  # noqa: F401
from .test_widgets import errors as errors

pytestmark = [pytest.mark.gui, pytest.mark.xdist_group("napari")]
SPACING = (0.8, 0.8, 1.5)


def _write_scan(path) -> np.ndarray:
    """A CT-like volume: air around a liver-like block of fine speckle (mean 43, std 12),
    stored with axial slices along array axis 2 (an RAS affine, offset)."""
    aff = np.diag([*SPACING, 1.0])
    aff[:3, 3] = [-150.0, 20.0, 40.0]
    n = np.random.default_rng(0).standard_normal((40, 40, 28))
    band = ndimage.gaussian_filter(n, [1.0 / s for s in SPACING]) - ndimage.gaussian_filter(
        n, [2.5 / s for s in SPACING]
    )
    data = np.full((48, 48, 32), -1000.0, np.float32)
    data[4:44, 4:44, 2:30] = (band - band.mean()) / band.std() * 12.0 + 43.0
    nib.save(nib.Nifti1Image(data, aff), path)
    return aff


def _quadrant_spread(rgba: np.ndarray, col: int) -> float:
    """Pixel spread inside the top-left (col 0) or top-right (col 1) image panel."""
    h, w = rgba.shape[:2]
    left, right = int((0.15 + 0.5 * col) * w), int((0.4 + 0.5 * col) * w)
    tile = rgba[int(0.12 * h) : int(0.45 * h), left:right, :3]
    return float(tile.astype(float).std())


def test_compare_view_shows_region_and_fit_and_applies(make_napari_viewer, qtbot, tmp_path,
                                                       errors) -> None:  # fmt: skip
    from fdif_studio.model.scans import read_scan

    viewer = make_napari_viewer(show=True)
    _write_scan(tmp_path / "ct.nii.gz")
    scans = W.Scans(viewer)
    scan = read_scan(tmp_path / "ct.nii.gz")
    layer = viewer.add_image(scan.data, name="ct", metadata={"affine": scan.affine},
                             **scan.layer_kwargs())  # fmt: skip
    scans._scan.value = layer.name
    region = scans.new_region("shapes")
    z = 15  # a rectangle on one axial slice, 33 x 33 voxels of liver (corners included)
    region.add_rectangles(np.array([[8, 8, z], [8, 40, z], [40, 40, z], [40, 8, z]], float))
    result = scans.match()
    assert result is not None, errors()
    s = session_for(viewer)
    assert s.match is result and result.region.shape == (33, 33, 1)

    panel = open_compare(viewer)
    assert open_compare(viewer) is panel  # one dock per viewer
    qtbot.waitUntil(lambda: panel.drawn > 0, timeout=10_000)
    assert "histogram W1" in panel.text.text() and "spectrum W1" in panel.text.text()
    assert result.after.spectrum <= 0.5 * result.before.spectrum
    assert result.after.w1 <= 0.25 * result.region_std
    for view in ("coronal", "sagittal", "axial"):  # redraws never stack axes
        panel.view.setCurrentText(view)
        assert len(panel.figure.axes) == 4
    left, right = panel.axes[0]
    [a], [b] = left.get_images(), right.get_images()
    assert a.get_array().shape == b.get_array().shape == (33, 33)  # axial: the drawn slice
    assert a.get_extent() == b.get_extent() == pytest.approx([0, 33 * 0.8, 33 * 0.8, 0])
    assert a.get_clim() == b.get_clim()  # one window
    np.testing.assert_allclose(np.asarray(a.get_array()), result.region.data[:, :, 0])
    np.testing.assert_allclose(np.asarray(b.get_array()), result.fitted[:, :, 0])
    for ax in panel.axes[1]:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["region", "before", "after"]
    assert f"{result.after.w1:.2f}" in panel.axes[1, 0].get_title()
    assert f"{result.after.spectrum:.4f}" in panel.axes[1, 1].get_title()
    assert panel.axes[1, 1].get_lines()[2].get_color() == COLORS["after"]
    panel.canvas.draw()
    rgba = np.asarray(panel.canvas.buffer_rgba())
    assert _quadrant_spread(rgba, 0) > 10 and _quadrant_spread(rgba, 1) > 10  # both textured

    names = panel.apply()
    assert not errors()
    preset = s.draft.to_preset()
    recipe = preset.recipe()
    assert names[0] in [d.name for d in recipe.displacements]
    assert names[1] in [m.name for m in recipe.mappers]
    assert s.design.displacement == "gradient_noise"
