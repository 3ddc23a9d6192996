"""The Designer panel: one primitive (class, shape, pose, displacement, mapper), live.

Every change is one model call and a render: at the drag resolution at once, at full
resolution once the changes pause (that settled state is one undo step). The design lives
in the edited preset's frame, so it overlays the Scene's samples and real scans in mm.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from napari.utils.notifications import show_info
from qtpy.QtCore import QTimer

from fdif_core.errors import UserError

from ..model import DesignState, families, render
from ..model.checks import Check, displacement_check
from ..model.exports import load_design
from ..model.textures import FORMULA, check_texture_params, parse_formula_params
from . import layers
from .common import LatestRunner, guarded, session_for
from .designer_controls import POSE_GROUPS, DesignerControls

FORMULA_SETTLE_MS = 350
"""A formula renders once typing pauses this long (and only if it is valid)."""


def _design_work(request: Any):
    """Worker: slices first (fast), then the isosurface, then (settled renders) the
    displacement check (alone: ``only_check``)."""
    if request.only_check:
        yield displacement_check(request) or Check(request.version, 0.0, 0.0, 1.0, "")
        return
    vol = render.render_volumes(request)
    yield vol
    if request.surface:
        phi = render.surface_field(vol)
        yield render.isosurface(phi, request.recipe.shape, request.version, request.spacing)
    if request.check:
        yield displacement_check(request) or Check(request.version, 0.0, 0.0, 1.0, "")


class Designer(DesignerControls):
    """Design one primitive: class and shape, pose, displacement, mapper; live previews."""

    def __init__(self, napari_viewer: Any, threaded: bool = True) -> None:
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.state: DesignState = self.session.design
        self.history = self.session.history
        self._updating = False
        self._camera_set = False
        self._surface_version = -1
        self._make_shape_and_pose()
        self._make_textures()
        self._make_preview()
        self._lay_out()
        self._connect()
        self._full_timer = QTimer()
        self._full_timer.setSingleShot(True)
        self._full_timer.setInterval(400)
        self._full_timer.timeout.connect(self._render_full)
        self._check_timer = QTimer()
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(400)
        self._check_timer.timeout.connect(
            lambda: self._submit(int(self._full_res.value), check=True, only_check=True)
        )
        self._formula_pending: dict[str, dict[str, Any]] = {}
        self._formula_timer = QTimer()
        self._formula_timer.setSingleShot(True)
        self._formula_timer.setInterval(FORMULA_SETTLE_MS)
        self._formula_timer.timeout.connect(self._apply_formulas)
        self.runner = LatestRunner(_design_work, self._on_result, threaded=threaded)
        self.shown_version = -1
        self.timings: dict[str, float] = {}
        self.check: Check | None = None
        self.sync()
        self.request_render(full=True)

    def _connect(self) -> None:
        self._family.changed.connect(self._on_family)
        self._primitive.changed.connect(self._on_primitive)
        self._geometry.changed.connect(self._on_geometry)
        self._disp_from.changed.connect(self._on_disp_from)
        self._disp_family.changed.connect(self._on_disp_family)
        self._space.changed.connect(self._on_space)
        self._map_from.changed.connect(self._on_map_from)
        self._map_family.changed.connect(self._on_map_family)
        self._iso.changed.connect(self._on_iso)
        self._full_res.changed.connect(lambda _: self.request_render(full=True))
        self._device.changed.connect(lambda _: self.request_render(full=True))
        self._threads.changed.connect(lambda n: torch.set_num_threads(int(n)))
        self._solo_3d.changed.connect(self._on_ndisplay)
        self._undo.changed.connect(self.undo)
        self._redo.changed.connect(self.redo)
        self._open.changed.connect(self._on_open)
        self._zoom.changed.connect(lambda _=None: layers.zoom_to_object(self.viewer))
        for w in self.pose_widgets.values():
            w.changed.connect(self._on_pose)
        self.viewer.dims.events.ndisplay.connect(self._on_ndisplay)
        self.session.connect("design", self._on_design_changed)
        self.session.connect("draft", self._on_draft)

    def _on_formula(self, kind: str) -> None:
        """A formula is checked at each keystroke (a refused one shows its one line
        inline); it renders once typing pauses and it is valid: a burst is one render and
        one undo step, and the last good design stays on screen meanwhile."""
        if self._updating:
            return
        box = self._disp_params if kind == "displacement" else self._map_params
        w = {x.name: x for x in box}
        try:
            params = {"expr": str(w["expr"].value), **parse_formula_params(w["numbers"].value)}
            check_texture_params(kind, FORMULA, params)
        except (ValueError, UserError) as err:
            w["error"].value = str(err)
            self._formula_pending.pop(kind, None)
            return
        w["error"].value = ""
        self._formula_pending[kind] = params
        self._formula_timer.start()

    @guarded
    def _apply_formulas(self) -> None:
        pending, self._formula_pending = self._formula_pending, {}
        for kind, params in pending.items():
            if kind == "displacement":
                self.state.set_displacement(FORMULA, params)
            else:
                self.state.set_mapper(FORMULA, params)
        if pending:
            self.request_render()

    def sync(self) -> None:
        """Refresh every widget from the model (after a model change made elsewhere)."""
        self._updating = True
        try:
            self._family.value = self.state.cls.family
            self._primitive.choices = families()[self.state.cls.family]
            self._primitive.value = self.state.primitive
            self._geometry.value = self.state.geometry
            self._build_shape()
            for group, *_ in POSE_GROUPS:
                for i, v in enumerate(getattr(self.state, group)):
                    self.pose_widgets[f"{group}{i}"].value = v
            self._disp_family.value = self.state.displacement
            self._space.value = self.state.space
            self._map_family.value = self.state.mapper
            self._build_params("displacement")
            self._build_params("mapper")
        finally:
            self._updating = False

    # ---- widget handlers: one model call each, then a render
    @guarded
    def _on_family(self, family: str) -> None:
        if self._updating:
            return
        self._primitive.choices = families()[family]
        self._primitive.value = families()[family][0]

    @guarded
    def _on_primitive(self, name: str) -> None:
        if self._updating or name is None or name == self.state.primitive:
            return
        self.state.set_primitive(name)
        self._build_shape()
        self.request_render()

    @guarded
    def _on_geometry(self, style: str) -> None:
        if self._updating or style == self.state.geometry:
            return
        self.state.set_geometry(style)
        self.request_render()

    @guarded
    def _on_vertex_count(self, n: int) -> None:
        if self._updating or n == self.state.cls.n:
            return
        self.state.set_vertex_count(int(n))
        self._updating = True
        try:
            self._primitive.value = self.state.primitive
        finally:
            self._updating = False
        self.request_render()

    @guarded
    def _on_knob(self, _: Any = None) -> None:
        if self._updating:
            return
        for name, w in self.shape_widgets.items():
            if name != "vertex_count" and w.value != self.state.knobs.get(name):
                self.state.set_knob(name, w.value)
        self.request_render()

    @guarded
    def _on_pose(self, _: Any = None) -> None:
        if self._updating:
            return
        vals = {
            g: tuple(self.pose_widgets[f"{g}{i}"].value for i in range(3))
            for g in ("translation", "angles_deg", "shear")
        }
        self.state.set_pose(**vals)
        self.request_render()

    @guarded
    def _on_disp_from(self, name: str) -> None:
        if self._updating or name.startswith("("):
            return
        self.state.load_instance("displacement", name)
        self._after_texture("displacement")

    @guarded
    def _on_map_from(self, name: str) -> None:
        if self._updating or name.startswith("("):
            return
        self.state.load_instance("mapper", name)
        self._after_texture("mapper")

    def _after_texture(self, kind: str) -> None:
        self._updating = True
        try:
            if kind == "displacement":
                self._disp_family.value = self.state.displacement
            else:
                self._map_family.value = self.state.mapper
        finally:
            self._updating = False
        self._build_params(kind)
        self.request_render()

    @guarded
    def _on_disp_family(self, family: str) -> None:
        if self._updating:
            return
        self.state.set_displacement(family)
        self._after_texture("displacement")

    @guarded
    def _on_space(self, space: str) -> None:
        if self._updating:
            return
        self.state.set_displacement(self.state.displacement, self.state.displacement_params, space)
        self.request_render()

    @guarded
    def _on_map_family(self, family: str) -> None:
        if self._updating:
            return
        self.state.set_mapper(family)
        self._after_texture("mapper")

    @guarded
    def _on_param(self, kind: str) -> None:
        if self._updating:
            return  # (formula families: see _on_formula)
        if kind == "displacement":
            values = {n: w.value for n, w in self.displacement_widgets.items()}
            self.state.set_displacement(self.state.displacement, values)
        else:
            values = {n: w.value for n, w in self.mapper_widgets.items()}
            self.state.set_mapper(self.state.mapper, values)
        self.request_render()

    def _on_iso(self, on: bool) -> None:
        self._on_ndisplay()

    def _on_ndisplay(self, _: Any = None) -> None:
        """The view switched (or a display option changed): arrange the layers, and render
        the isosurface if it was skipped while in 2D."""
        if not self._arrange():
            return
        if self._wants_surface() and self._surface_version != self.state.version:
            self.request_render(full=True)

    def _arrange(self) -> bool:
        """2D: image and outlines; 3D: the isosurface (alone with "3D: isosurface only"),
        seen from an oblique camera the first time. False once the panel is closed."""
        try:
            iso, solo = bool(self._iso.value), bool(self._solo_3d.value)
        except RuntimeError:  # the widget was closed; the viewer lives on
            return False
        layers.arrange_for_ndisplay(self.viewer, iso, solo)
        if self.viewer.dims.ndisplay == 3 and not self._camera_set:
            self._camera_set = True
            layers.oblique_camera(self.viewer)
        return True

    # ---- undo, redo, open; changes made elsewhere
    def undo(self, _: Any = None) -> bool:
        """Back to the previous settled design; False when there is none."""
        done = self.history.undo()
        if done:
            self._after_model_change()
        return done

    def redo(self, _: Any = None) -> bool:
        done = self.history.redo()
        if done:
            self._after_model_change()
        return done

    @guarded
    def _on_open(self, _: Any = None) -> None:
        path = Path(str(self._open_path.value))
        if not path.is_file():
            raise ValueError(f"{path}: no such design file")
        self.open_design(path)

    def open_design(self, path: str | Path) -> None:
        """Reopen a design saved with an export (``<stem>_design.yaml``)."""
        self.state.restore(load_design(path))
        self.history.record()
        self._after_model_change()
        show_info(f"opened design {self.state.primitive} from {Path(path).name}")

    def _after_model_change(self) -> None:
        self.sync()
        self.request_render(full=True)

    def _on_design_changed(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed panel
            self._after_model_change()

    def _on_draft(self) -> None:
        """The preset changed: keep the design in its frame (same mm box as the Scene)."""
        if self.session.follow_draft():
            with contextlib.suppress(RuntimeError):
                self.request_render(full=True)

    # ---- rendering
    @property
    def busy(self) -> bool:
        timers = (self._full_timer, self._formula_timer, self._check_timer)
        return self.runner.busy or any(t.isActive() for t in timers)

    def request_render(self, full: bool = False) -> None:
        """Render at the drag resolution now and at full resolution once changes pause."""
        drag, top = int(self._drag_res.value), int(self._full_res.value)
        if full or drag >= top:
            self._full_timer.stop()
            self._render_full(check=full)
            if not full:  # every change renders in full: check once they pause
                self._check_timer.start()
            return
        self._submit(drag)
        self._full_timer.start()

    def _render_full(self, check: bool = True) -> None:
        self.history.record()  # the changes have settled: one undo step
        self._submit(int(self._full_res.value), check=check)

    def _submit(self, resolution: int, check: bool = False, only_check: bool = False) -> None:
        req = self.state.request(resolution, str(self._device.value))
        surface = self._wants_surface() and not only_check
        self.runner.submit(replace(req, surface=surface, check=check, only_check=only_check))

    def _wants_surface(self) -> bool:
        """The isosurface is shown only in 3D: in 2D it is not even extracted."""
        return bool(self._iso.value) and self.viewer.dims.ndisplay == 3

    def _on_result(self, result: Any) -> None:
        if result.version < self.shown_version:
            return  # stale
        self.shown_version = result.version
        if isinstance(result, render.Volumes):
            req = result.request
            clip = req.recipe.spec.clip
            if layers.show_design_volumes(self.viewer, result, clip, self.state.primitive):
                self._arrange()
            self.timings["volumes"] = result.seconds
            shape = "×".join(map(str, result.image.shape))
            self._status.value = f"{shape} field + slices {result.seconds * 1e3:.0f} ms"
            self.session.volumes, self.session.request = result, req
            self.session.emit("rendered")
        elif isinstance(result, render.Surface):
            self._surface_version = result.version
            self.timings["surface"] = result.seconds
            layers.show_design_surface(self.viewer, result)
            self._arrange()
            self._status.value += f"; isosurface {result.seconds * 1e3:.0f} ms"
        elif isinstance(result, Check):
            self.check = result
            self._warning.value = result.warning
            self._warning.visible = bool(result.warning)
