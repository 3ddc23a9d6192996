"""How the studio's volumes appear in the viewer: a scan-like reading.

Images are grayscale with the preset's intensity range as window; labels are drawn as
outlines (``contour``) so the intensity being designed stays visible; the isosurface is
shown only in 3D (in 2D its slice fragments would cover the image), and in 3D the image
and label volumes step aside for it. The first switch to 3D turns the camera to an
oblique view, so the shape reads as a solid at once.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import numpy as np

from ..model import render
from .common import DESIGN_LAYERS, set_layer, show_point_inside

AXES = ("x", "y", "z")
"""The viewer's axis labels: array axes 0, 1, 2 are the engine's (and formulas') x, y, z."""
CAMERA_3D = (15.0, -30.0, 60.0)
"""Default 3D camera angles (degrees): oblique, from above the front-right corner."""
LABEL_STYLES = ("outline", "filled", "hidden")


def style_labels(layer: Any, style: str, viewer: Any = None) -> None:
    """Draw a Labels layer as ``outline`` (1-pixel contour), ``filled`` or ``hidden``."""
    if style not in LABEL_STYLES:
        raise ValueError(f"label style {style!r}; allowed: {', '.join(LABEL_STYLES)}")
    layer.visible = style != "hidden"
    layer.metadata["fdif_style"] = style
    three_d = viewer is not None and viewer.dims.ndisplay == 3
    layer.contour = int(style == "outline" and not three_d)
    layer.opacity = 0.9 if style == "outline" else 0.45
    if viewer is not None:
        outlines_follow_ndisplay(viewer)


_HOOKED: weakref.WeakSet[Any] = weakref.WeakSet()
warnings.filterwarnings(
    "ignore", message="Contours are not displayed during 3D rendering", category=UserWarning
)


def outlines_follow_ndisplay(viewer: Any) -> None:
    """Once per viewer: outlines off while in 3D (napari draws no contours there), back on
    in 2D. napari re-slices the layers before this runs and warns once for the switch;
    that warning (only that message) is filtered below: in 3D the studio hides or
    un-outlines its labels anyway."""
    viewer = getattr(viewer, "__wrapped__", viewer)
    if viewer in _HOOKED:
        return

    def on_ndisplay(_: Any = None) -> None:
        three_d = viewer.dims.ndisplay == 3
        for layer in viewer.layers:
            if layer._type_string == "labels" and layer.metadata.get("fdif_style") == "outline":
                layer.contour = 0 if three_d else 1

    viewer.dims.events.ndisplay.connect(on_ndisplay)
    _HOOKED.add(viewer)


def show_design_volumes(viewer: Any, vol: render.Volumes, clip, primitive: str) -> bool:
    """Put a design preview into the design image and label layers; True if newly added."""
    first = DESIGN_LAYERS[0] not in viewer.layers
    kw = {"scale": vol.scale, "translate": vol.translate}
    set_layer(viewer, DESIGN_LAYERS[0], "image", vol.image,
              contrast_limits=tuple(clip), colormap="gray", **kw)  # fmt: skip
    label = set_layer(viewer, DESIGN_LAYERS[1], "labels", vol.label,
                      features=render.label_features(["background", primitive]), **kw)  # fmt: skip
    if first:
        style_labels(label, "outline", viewer)
        if viewer.dims.ndim == 3:  # array axes 0, 1, 2 are the engine's x, y, z
            viewer.dims.axis_labels = AXES
    show_point_inside(viewer, viewer.layers[DESIGN_LAYERS[0]])
    return first


def show_design_surface(viewer: Any, surf: render.Surface) -> Any:
    verts, faces = surf.vertices, surf.faces
    if surf.empty:  # keep a valid (degenerate) mesh; hide it
        verts, faces = np.zeros((3, 3), np.float32), np.array([[0, 1, 2]])
    layer = set_layer(viewer, DESIGN_LAYERS[2], "surface", (verts, faces),
                      colormap="bop orange", shading="smooth")  # fmt: skip
    layer.metadata["empty"] = surf.empty
    return layer


def arrange_for_ndisplay(viewer: Any, iso: bool, solo_3d: bool) -> None:
    """2D: image and outlines, no isosurface; 3D: the isosurface (alone if ``solo_3d``)."""
    three_d = viewer.dims.ndisplay == 3
    if DESIGN_LAYERS[2] in viewer.layers:
        surf = viewer.layers[DESIGN_LAYERS[2]]
        surf.visible = three_d and iso and not surf.metadata.get("empty", False)
    for name in DESIGN_LAYERS[:2]:
        if name in viewer.layers:
            viewer.layers[name].visible = not (three_d and solo_3d)


def oblique_camera(viewer: Any) -> None:
    """Fit the scene and look at it obliquely (the studio's default 3D view)."""
    viewer.reset_view()
    viewer.camera.angles = CAMERA_3D
    viewer.camera.zoom *= 0.85


def zoom_to_object(viewer: Any, margin: float = 1.3) -> bool:
    """Centre the camera on the design's object and zoom so it fills the canvas (its
    bounding box times ``margin``); False when there is no object to zoom to."""
    if DESIGN_LAYERS[1] not in viewer.layers:
        return False
    layer = viewer.layers[DESIGN_LAYERS[1]]
    idx = np.argwhere(np.asarray(layer.data) > 0)
    if not len(idx):
        return False
    lo, hi = idx.min(0) - 0.5, idx.max(0) + 0.5
    scale, shift = np.asarray(layer.scale), np.asarray(layer.translate)
    lo_w, hi_w = lo * scale + shift, hi * scale + shift
    full = np.asarray(layer.extent.world)
    viewer.reset_view()
    shown = list(viewer.dims.displayed)
    size = (hi_w - lo_w)[shown].max() * margin
    viewer.camera.zoom *= float((full[1] - full[0])[shown].max() / max(size, 1e-6))
    viewer.camera.center = tuple(0.5 * (lo_w + hi_w)[a] for a in shown)
    point = list(viewer.dims.point)
    for axis in viewer.dims.not_displayed:
        point[axis] = 0.5 * (lo_w[axis] + hi_w[axis])
    viewer.dims.point = point
    return True
