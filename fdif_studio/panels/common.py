"""Shared plumbing of the panels: one session per viewer, notifications, a render runner
that drops stale requests, and in-place layer updates.

Each control reads its value, calls one model method and asks for a render; renders run
in a napari worker thread, one at a time, and only the newest pending request survives
(stale ones are dropped), so dragging a slider never blocks the viewer. Bad input becomes
a napari notification with the reason; the viewer keeps working.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from magicgui.widgets import FloatSpinBox, SpinBox
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QScrollArea, QWidget

from fdif_core.errors import UserError

from ..model import INTEGER_PARAMS, PARAM_BOUNDS, Session

_SESSIONS: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()
DESIGN_LAYERS = ("design image", "design label", "design isosurface")
SCENE_LAYERS = ("scene image", "scene label")


def quiet_deprecations() -> None:
    """Keep deprecation notices (napari's and other libraries', meant for developers) out
    of the viewer's toasts: napari turns every shown warning into a notification."""
    for category in (DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=r"(?is).*deprecat", category=FutureWarning)


def session_for(viewer: Any) -> Session:
    """The studio session of ``viewer`` (one per viewer, shared by all studio widgets)."""
    quiet_deprecations()
    viewer = getattr(viewer, "__wrapped__", viewer)  # napari hands widgets a proxy
    if viewer not in _SESSIONS:
        _SESSIONS[viewer] = Session()
    return _SESSIONS[viewer]


def report(err: BaseException) -> None:
    """Show a napari error notification with the reason (one line)."""
    show_error(str(err).strip() or type(err).__name__)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a handler; bad input (ValueError, UserError, OSError) becomes a notification."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, UserError, OSError, KeyError) as err:
            report(err)
            return None

    wrapper.__name__ = getattr(fn, "__name__", "handler")
    wrapper.__doc__ = fn.__doc__
    return wrapper


class LatestRunner:
    """Runs ``work(request)`` (a generator) in a worker thread, one request at a time.

    While one runs, a newer ``submit`` replaces the pending request: stale requests are
    dropped, never queued. Yielded results go to ``on_result`` on the UI thread.
    """

    def __init__(
        self, work: Callable[[Any], Any], on_result: Callable[[Any], None], threaded: bool = True
    ) -> None:
        self.work, self.on_result, self.threaded = work, on_result, threaded
        self._pending: Any = None
        self._worker: Any = None
        self.dropped = 0

    @property
    def busy(self) -> bool:
        return self._worker is not None or self._pending is not None

    def submit(self, request: Any) -> None:
        if self._pending is not None:
            self.dropped += 1
        self._pending = request
        if self._worker is None:
            self._start()

    def _start(self) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        if not self.threaded:
            try:
                for result in self.work(request):
                    self.on_result(result)
            except Exception as err:
                report(err)
            return
        from napari.qt.threading import create_worker

        worker = create_worker(self.work, request, _start_thread=False)
        worker.yielded.connect(self.on_result)
        worker.errored.connect(report)
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()

    def _finished(self) -> None:
        self._worker = None
        if self._pending is not None:
            self._start()

    def quit(self) -> None:
        self._pending = None
        if self._worker is not None:
            self._worker.quit()


def set_layer(viewer: Any, name: str, kind: str, data: Any, **kwargs: Any) -> Any:
    """Update layer ``name`` in place or add it; unchanged frames are left alone (each
    assignment of scale or translate refreshes the layer)."""
    if name not in viewer.layers:
        return getattr(viewer, f"add_{kind}")(data, name=name, **kwargs)
    layer = viewer.layers[name]
    for key in ("scale", "translate"):
        if key in kwargs and not np.allclose(getattr(layer, key), kwargs[key]):
            setattr(layer, key, kwargs[key])
    layer.data = data
    if kind == "labels" and "colormap" in kwargs:  # class colours follow the label list
        layer.colormap = kwargs["colormap"]
    if "features" in kwargs:
        set_features(layer, kwargs["features"])
    return layer


def set_features(layer: Any, features: dict[str, Any]) -> None:
    current = layer.features
    same = list(current.columns) == list(features) and all(
        len(current[k]) == len(v) and (current[k].to_numpy() == np.asarray(v)).all()
        for k, v in features.items()
    )
    if not same:
        layer.features = features


def show_point_inside(viewer: Any, layer: Any) -> None:
    """Move the dims sliders into ``layer``'s extent when they lie outside it (layers of
    presets with other reference grids share the viewer)."""
    lo, hi = np.asarray(layer.extent.world)
    point = list(viewer.dims.point)
    for axis in viewer.dims.not_displayed:
        if not lo[axis] <= point[axis] <= hi[axis]:
            viewer.dims.set_point(axis, 0.5 * (lo[axis] + hi[axis]))


def scroll(widget: QWidget) -> QScrollArea:
    layout = widget.layout()
    if layout is not None:
        layout.addStretch(1)  # keep controls packed at the top
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area


TIPS = {
    "amplitude": "the family's scale of Δ, in half-grid units (G/2); the Δ plot shows the "
    "resulting amplitude, max |Δ|, in mm",
    "frequency": "per half-grid unit (x̂ = coordinate / (G/2))",
}


def param_widget(name: str, value: float) -> FloatSpinBox | SpinBox:
    lo, hi, step = PARAM_BOUNDS.get(name, (-1e6, 1e6, 0.1))
    tip = TIPS.get(name)
    if name in INTEGER_PARAMS:
        return SpinBox(value=int(value), min=int(lo), max=int(hi), step=1, label=name, name=name,
                       tooltip=tip)  # fmt: skip
    return FloatSpinBox(value=float(value), min=lo, max=hi, step=step, label=name, name=name,
                        tooltip=tip)  # fmt: skip


# matplotlib figures in napari's dark theme (the plots and compare docks)
FG, BG = "#d6d6d6", "#262930"


def style_axes(ax: Any) -> None:
    ax.set_facecolor(BG)
    ax.tick_params(colors=FG, labelsize=6)
    for spine in ax.spines.values():
        spine.set_color("#5a5f6a")


def style_legend(ax: Any) -> None:
    leg = ax.legend(fontsize=6, facecolor=BG, edgecolor="#5a5f6a")
    for t in leg.get_texts():
        t.set_color(FG)
