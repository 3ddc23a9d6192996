"""Screenshots of the studio for docs/studio.md (viewer, FDIF Studio dock, Plots dock).

Run under a display::

    xvfb-run -a -s "-screen 0 1700x1050x24" python scripts/studio_screenshot.py [docs]

Writes ``studio.png`` (3D isosurface, oblique camera), ``studio-2d.png`` (a two-line
formula with fbm noise, grayscale slices with label outlines, live plots),
``studio-scene.png`` (a Scene sample, class outlines), ``studio-scan.png`` (a real CT
scan from pyradiomics' test data when its cache is present, else a synthetic one; axial
view, a soft-tissue rectangle 5 slices deep measured in HU and matched, the comparison view
beside) and ``studio-gallery.png``
(the class gallery).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_API", "pyqt6")  # napari's default binding

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from fdif_studio.panels import Studio


def settle(app, *widgets, frames: int = 25) -> None:
    for w in widgets:
        while w.busy:
            app.processEvents()
            time.sleep(0.01)
    for _ in range(frames):
        app.processEvents()
        time.sleep(0.02)


def close_toasts(viewer) -> None:
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def save(viewer, app, path: Path) -> None:
    close_toasts(viewer)
    settle(app)
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path.resolve()}")


def design(studio: Studio, app) -> None:
    d = studio.designer
    d._family.value = "star_prism_convex"
    d._primitive.value = "star_6_prism_convex"
    for name, value in (("radius", 0.3), ("half_height", 0.32), ("peak_scale", 1.6)):
        d.shape_widgets[name].value = value
    for key, value in (("angles_deg0", 35.0), ("angles_deg1", -20.0)):
        d.pose_widgets[key].value = value
    d._disp_family.value = "expression"
    box = {w.name: w for w in d._disp_params}
    box["numbers"].value = "a=0.02, f=40, b=0.04"
    box["expr"].value = "a * sin(f * x) * cos(f * y)\n+ b * fbm(x, y, z, 6, 4)"
    d._map_family.value = "expression"
    box = {w.name: w for w in d._map_params}
    box["expr"].value = "clip(128 + 12 * d, 0, 128) * (0.75 + 0.25 * cos(2 * pi * d / 3))"
    d.request_render(full=True)
    settle(app, d, studio.plots)


def scan_file(folder: Path) -> Path:
    """lung1 of pyradiomics' test data (cropped around its lesion), or a synthetic scan.

    The dataset is written by a separate process: MONAI's NRRD reader imports triton,
    which crashes in a process that already runs Qt 6."""
    import subprocess

    code = ("import sys; from fdif_core.real.samples import pyradiomics_dataset; "
            "pyradiomics_dataset(sys.argv[1], ['lung1'])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, str(folder / "pyradiomics")],
                          capture_output=True, text=True)  # fmt: skip
    path = folder / "pyradiomics" / "imagesTr" / "lung1_0000.nii.gz"
    if done.returncode == 0 and path.is_file():
        return path
    import nibabel as nib

    k = np.arange(48)
    data = -500 + 300 * np.sin(2 * np.pi * k / 8)[None, None, :] * np.ones((48, 48, 1))
    path = folder / "synthetic_scan.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.diag([0.8, 0.8, 1.5, 1])), path)
    return path


def main(out: str = "docs") -> None:
    out_dir = Path(out)
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1650, 1000)
    studio = Studio(viewer)
    viewer.window.add_dock_widget(studio, name="FDIF Studio", area="right")
    app = QApplication.instance()
    settle(app, studio.designer)
    design(studio, app)

    viewer.dims.ndisplay = 2  # slices: gray, outlined, plots beside
    viewer.reset_view()
    save(viewer, app, out_dir / "studio-2d.png")
    viewer.dims.ndisplay = 3  # the isosurface from the oblique camera
    settle(app, studio.designer)
    save(viewer, app, out_dir / "studio.png")

    viewer.dims.ndisplay = 2  # the Scene: a quickstart sample, class outlines over the image
    for layer in viewer.layers:
        layer.visible = False
    studio.show_panel("scene")
    studio.scene.render()
    settle(app, studio.scene, studio.plots)
    viewer.reset_view()
    save(viewer, app, out_dir / "studio-scene.png")

    viewer.layers.clear()  # a real scan: region, statistics, match (a built-in mapper)
    studio.designer._map_family.value = "exponential"
    settle(app, studio.designer)
    with tempfile.TemporaryDirectory() as tmp:
        from fdif_studio.panels.scans import add_scan, set_view

        layer = add_scan(viewer, scan_file(Path(tmp)))
        scans = studio.scans
        scans.reset_choices()
        scans._scan.value = layer.name
        scans._view.value = "axial"  # (a rectangle drawn on an axial slice, 5 slices deep)
        set_view(viewer, "axial")
        k = layer.data.shape[2] // 2
        viewer.dims.set_point(2, float(np.asarray(layer.data_to_world((0, 0, k)))[2]))
        region = scans.new_region("shapes")
        h, w = layer.data.shape[:2]
        lo, hi = (0.15, 0.85) if "synthetic" in layer.name else (0.7, 0.97)  # soft tissue
        rect = [[h * lo, w * lo, k], [h * lo, w * hi, k], [h * hi, w * hi, k],
                [h * hi, w * lo, k]]  # fmt: skip
        region.add_rectangles(np.array(rect, float))
        scans._slab.value = 5
        region.mode = "pan_zoom"
        scans.measure()
        scans.match()
        studio.show_panel("scans")
        settle(app, studio.designer, studio.plots)  # the matched design renders first
        for name in ("design image", "design label", "design isosurface"):
            if name in viewer.layers:  # (the scan alone: its slice, not the design's)
                viewer.layers.remove(name)
        viewer.dims.set_point(2, float(np.asarray(layer.data_to_world((0, 0, k)))[2]))
        viewer.reset_view()
        settle(app)
        save(viewer, app, out_dir / "studio-scan.png")

    studio.show_panel("gallery")
    settle(app, studio.gallery)
    save(viewer, app, out_dir / "studio-gallery.png")
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
