"""Save a screenshot of the studio (viewer + FDIF Studio dock) to docs/studio.png.

Run under a display::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/studio_screenshot.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from fdif_studio.panels import Studio


def wait(app, widget) -> None:
    while widget.busy:
        app.processEvents()
        time.sleep(0.01)


def close_toasts(viewer) -> None:
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def main(out: str = "docs/studio.png", scene_out: str = "docs/studio-scene.png") -> None:
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 950)
    studio = Studio(viewer)
    viewer.window.add_dock_widget(studio, name="FDIF Studio", area="right")
    app = QApplication.instance()
    d = studio.designer
    wait(app, d)
    d._family.value = "star_prism_concave"
    d._primitive.value = "star_6_prism_concave"
    for name, value in (("radius", 0.3), ("half_height", 0.3), ("neck_scale", 0.5)):
        d.shape_widgets[name].value = value
    for key, value in (("angles_deg0", 55.0), ("angles_deg1", -20.0)):
        d.pose_widgets[key].value = value
    d._disp_from.value = "perlin_fine"
    d._map_from.value = "sinusoidal_wavelength_3.0"
    d.request_render(full=True)
    wait(app, d)
    for name in ("design image", "design label"):
        viewer.layers[name].visible = False
    viewer.dims.ndisplay = 3
    viewer.camera.angles = (15.0, -30.0, 60.0)
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    close_toasts(viewer)
    app.processEvents()
    viewer.screenshot(out, canvas_only=False, flash=False)
    print(f"wrote {Path(out).resolve()}")

    # the Scene panel: a quickstart sample, labels coloured by class beside the image
    for layer in viewer.layers:
        layer.visible = False
    viewer.dims.ndisplay = 2
    studio.setCurrentIndex(1)
    studio.scene.render()
    wait(app, studio.scene)
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    close_toasts(viewer)
    viewer.screenshot(scene_out, canvas_only=False, flash=False)
    print(f"wrote {Path(scene_out).resolve()}")
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
