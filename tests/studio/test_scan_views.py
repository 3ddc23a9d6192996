"""The Scan panel of round two: views, regions in every view, units, the default scan."""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import pytest

from fdif_studio.model.scans import VIEWS, rectangle_box, scan_units


def test_a_rectangle_in_any_view_becomes_a_box_over_its_slab() -> None:
    shape = (30, 40, 50)
    axial = np.array([[3, 5, 20], [3, 14, 20], [12, 14, 20], [12, 5, 20]], float)  # z = 20
    box = rectangle_box(axial, shape, slab=5)
    idx = np.argwhere(box)
    assert box.sum() == 10 * 10 * 5
    assert idx.min(0).tolist() == [3, 5, 18] and idx.max(0).tolist() == [12, 14, 22]
    coronal = np.array([[0, 7, 0], [0, 7, 49], [29, 7, 49], [29, 7, 0]], float)  # y = 7
    assert rectangle_box(coronal, shape).sum() == 30 * 1 * 50
    edge = np.array([[-5, 38, 3], [-5, 45, 3], [4, 45, 3], [4, 38, 3]], float)  # clipped
    assert rectangle_box(edge, shape, slab=3).sum() == 5 * 2 * 3
    with pytest.raises(ValueError, match="holds no voxel"):
        rectangle_box(axial + np.array([100.0, 0, 0]), shape)
    assert set(VIEWS) == {"axial", "coronal", "sagittal"} and VIEWS["axial"][0] == 2


def test_units_name_hounsfield_for_a_ct_only() -> None:
    assert scan_units(np.array([-1000.0, 40.0])) == "HU"
    assert scan_units(np.array([0.0, 128.0])) == "scan units"


pytest.importorskip("napari")
pytest.importorskip("pytestqt")
needs_display = pytest.mark.skipif(
    not (os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen"),
    reason="needs a display: run under xvfb-run",
)


@needs_display
@pytest.mark.gui
def test_scan_opens_axial_measures_an_axial_rectangle_and_a_mask_label(
    make_napari_viewer, qtbot, tmp_path
) -> None:
    from fdif_studio import panels as W

    from .test_widgets import small_designer

    viewer = make_napari_viewer(show=True)
    small_designer(viewer, qtbot)  # the design image exists before any scan
    scans = W.Scans(viewer)
    assert scans._scan.value is None  # never the design image as "the scan"
    rng = np.random.default_rng(0)
    ct = rng.normal(40, 12, (32, 36, 20)).astype(np.float32)
    ct[:2] = -1000  # air
    aff = np.diag([0.8, 0.8, 2.5, 1.0])
    nib.save(nib.Nifti1Image(ct, aff), tmp_path / "ct.nii.gz")
    mask = np.zeros(ct.shape, np.uint8)
    mask[10:20, 10:20, 5:9] = 3
    mask[22:25, 22:25, 5:9] = 1
    nib.save(nib.Nifti1Image(mask, aff), tmp_path / "liver_mask.nii.gz")
    scans._file.value = str(tmp_path / "ct.nii.gz")
    scans._on_open()
    assert scans._scan.value == "ct" and viewer.dims.order == VIEWS["axial"]
    assert tuple(str(o) for o in viewer.camera.orientation2d) == ("up", "left")
    scans._view.value = "coronal"
    assert viewer.dims.order == VIEWS["coronal"]
    scans._view.value = "axial"
    region = scans.new_region("shapes")  # drawn in the axial view: flat along z
    region.add_rectangles(np.array([[8, 8, 10], [8, 17, 10], [17, 17, 10], [17, 8, 10]], float))
    scans._slab.value = 3
    measured = scans.measure()
    assert measured.mask.sum() == 10 * 10 * 3 and measured.mask[:, :, 9:12].all(-1).sum() == 100
    text = scans._stats.value
    assert "region</b> (HU)" in text and "design</b> (design intensity 0–128)" in text
    scans._file.value = str(tmp_path / "liver_mask.nii.gz")
    scans._on_open()
    assert viewer.layers["liver_mask"]._type_string == "labels"
    assert scans._region.value == "liver_mask"
    scans._label.value = 3
    assert scans.measure().mask.sum() == 10 * 10 * 4
