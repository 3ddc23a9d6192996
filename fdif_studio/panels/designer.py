"""The Designer panel: one primitive (class, shape, pose, displacement, mapper), live.

Every change is one model call and a render: at the drag resolution at once, at full
resolution once the changes pause (that settled state is one undo step). The design lives
in the edited preset's frame, so it overlays the Scene's samples and real scans in mm.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    Label,
    LineEdit,
    PushButton,
    Slider,
    SpinBox,
)
from napari.utils.notifications import show_info
from qtpy.QtCore import QTimer

from fdif_core.engine.sdf.geometry import GEOMETRIES
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M
from fdif_core.errors import UserError

from ..model import NONE, DesignState, families, render
from ..model.exports import load_design
from ..model.textures import FORMULA, format_formula_params, parse_formula_params
from . import layers
from .common import LatestRunner, guarded, param_widget, session_for


def _leave_a_core_to_the_ui() -> None:
    """When torch would use every core (its default), use one less: the renders share the
    machine with the UI thread, and busy OpenMP workers starve it (measured on 2 cores:
    2 threads made a 64³ preview 5-10x slower under load than 1)."""
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


def _design_work(request: Any):
    """Worker: slices first (fast), then the isosurface."""
    vol = render.render_volumes(request)
    yield vol
    if request.surface:
        yield render.isosurface(vol.phi, request.recipe.shape, request.version, request.spacing)


POSE_GROUPS = (
    ("translation", ("z", "y", "x"), 0.5, "fraction of G"),
    ("angles_deg", ("rot 0", "rot 1", "rot 2"), 180.0, "degrees"),
    ("shear", ("shear 01", "shear 02", "shear 12"), 0.3, ""),
)


class Designer(Container):
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
        self.runner = LatestRunner(_design_work, self._on_result, threaded=threaded)
        self.shown_version = -1
        self.timings: dict[str, float] = {}
        self.sync()
        self.request_render(full=True)

    def _make_shape_and_pose(self) -> None:
        fams = families()
        self._family = ComboBox(choices=list(fams), value="basic", label="family", name="family")
        self._primitive = ComboBox(
            choices=fams["basic"], value=self.state.primitive, label="class", name="primitive"
        )
        self._geometry = ComboBox(
            choices=list(GEOMETRIES),
            value=self.state.geometry,
            label="geometry",
            name="geometry",
            tooltip="exact: true SDFs, closed onion shells; authors: the released generator's "
            "fields (open onion tubes), as a preset's geometry.style (docs/method.md)",
        )
        self._shape = Container(labels=True, name="shape")
        self._pose = Container(labels=True, name="pose")
        self.pose_widgets: dict[str, FloatSlider] = {}
        for group, labels, lim, what in POSE_GROUPS:
            for i, lab in enumerate(labels):
                step = 1.0 if group == "angles_deg" else 0.01
                text = f"move {lab}" if group == "translation" else lab
                w = FloatSlider(value=0.0, min=-lim, max=lim, step=step, label=text, tooltip=what)
                w.changed.connect(self._on_pose)
                self._pose.append(w)
                self.pose_widgets[f"{group}{i}"] = w

    def _make_textures(self) -> None:
        disp_inst = ["(instance)", *D.DISPLACEMENTS.names]
        self._disp_from = ComboBox(choices=disp_inst, label="start from", name="disp_from")
        self._disp_family = ComboBox(
            choices=[NONE, *D.FAMILIES.names], value=self.state.displacement, label="family"
        )
        self._space = ComboBox(choices=["object", "world"], value=self.state.space, label="space")
        self._disp_params = Container(labels=True, name="displacement_params")
        map_inst = ["(instance)", *M.MAPPERS.names]
        self._map_from = ComboBox(choices=map_inst, label="start from", name="map_from")
        self._map_family = ComboBox(
            choices=M.FAMILIES.names, value=self.state.mapper, label="family"
        )
        self._map_params = Container(labels=True, name="mapper_params")

    def _make_preview(self) -> None:
        devices = ["cpu"] + (["cuda"] if render.default_device() == "cuda" else [])
        self._device = ComboBox(choices=devices, value=render.default_device(), label="device")
        self._drag_res = ComboBox(choices=[32, 48, 64, 96], value=64, label="drag res.")
        self._full_res = ComboBox(choices=[48, 64, 96, 128, 160], value=96, label="full res.")
        self._iso = CheckBox(value=True, label="isosurface (3D)")
        _leave_a_core_to_the_ui()
        self._threads = SpinBox(
            value=torch.get_num_threads(),
            min=1,
            max=max(1, os.cpu_count() or 1),
            label="CPU threads",
            tooltip="torch intra-op threads (process-wide); 1 keeps a core free for the UI",
        )
        self._solo_3d = CheckBox(value=True, label="3D: isosurface only")
        self._undo = PushButton(text="Undo")
        self._redo = PushButton(text="Redo")
        self._open_path = FileEdit(mode="r", filter="*_design.yaml *.yaml", label="design file")
        self._open = PushButton(text="Open design")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)

    def _lay_out(self) -> None:
        preview = [self._device, self._drag_res, self._full_res, self._threads, self._iso,
                   self._solo_3d]  # fmt: skip
        self.extend(
            [
                Container(widgets=[self._undo, self._redo], layout="horizontal", labels=False),
                Label(value="<b>Shape</b>"),
                Container(widgets=[self._family, self._primitive, self._geometry], labels=True),
                self._shape,
                Label(value="<b>Pose</b>"),
                self._pose,
                Label(value="<b>Displacement</b>"),
                Container(widgets=[self._disp_from, self._disp_family, self._space], labels=True),
                self._disp_params,
                Label(value="<b>Mapper</b>"),
                Container(widgets=[self._map_from, self._map_family], labels=True),
                self._map_params,
                Label(value="<b>Preview</b>"),
                Container(widgets=preview, labels=True),
                Container(widgets=[self._open_path, self._open], labels=True),
                self._status,
            ]
        )

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
        self.viewer.dims.events.ndisplay.connect(self._on_ndisplay)
        self.session.connect("design", self._on_design_changed)
        self.session.connect("draft", self._on_draft)

    # ---- state -> widgets
    @property
    def shape_widgets(self) -> dict[str, FloatSlider | Slider]:
        return {w.name: w for w in self._shape}

    @property
    def displacement_widgets(self) -> dict[str, Any]:
        return {w.name: w for w in self._disp_params}

    @property
    def mapper_widgets(self) -> dict[str, Any]:
        return {w.name: w for w in self._map_params}

    def _build_shape(self) -> None:
        self._shape.clear()
        counts = self.state.vertex_counts()
        if counts:
            n = Slider(
                value=self.state.cls.n,
                min=counts[0],
                max=counts[-1],
                step=1,
                label="vertices" if self.state.cls.section == "polygon" else "star points",
                name="vertex_count",
                tooltip="switches to the class with this many vertices",
            )
            n.changed.connect(self._on_vertex_count)
            self._shape.append(n)
        for k in self.state.knob_list():
            cls = Slider if k.integer else FloatSlider
            w = cls(
                value=self.state.knobs[k.name],
                min=k.lo,
                max=k.hi,
                step=k.step,
                label=k.label,
                name=k.name,
                tooltip=k.tip,
            )
            w.changed.connect(self._on_knob)
            self._shape.append(w)

    def _build_params(self, kind: str) -> None:
        box = self._disp_params if kind == "displacement" else self._map_params
        params = (
            self.state.displacement_params if kind == "displacement" else self.state.mapper_params
        )
        box.clear()
        family = self.state.displacement if kind == "displacement" else self.state.mapper
        if family == FORMULA:
            self._build_formula(box, kind, params)
            return
        for name, value in params.items():
            w = param_widget(name, value)
            w.changed.connect(lambda _=None, k=kind: self._on_param(k))
            box.append(w)

    def _build_formula(self, box: Container, kind: str, params: dict[str, Any]) -> None:
        """A text field for the formula, one for its named numbers, an inline error line."""
        what = "x, y, z (normalised)" if kind == "displacement" else "d (voxels)"
        expr = LineEdit(value=str(params.get("expr", "")), label="formula", name="expr",
                        tooltip=f"sees {what} and the numbers below")  # fmt: skip
        names = LineEdit(value=format_formula_params(params), label="numbers", name="numbers",
                         tooltip="name=value, name=value")  # fmt: skip
        error = Label(value="", name="error")
        error.native.setWordWrap(True)
        error.native.setStyleSheet("color: #ff8080")
        for w in (expr, names):
            w.changed.connect(lambda _=None, k=kind: self._on_formula(k))
        box.extend([expr, names, error])

    def _on_formula(self, kind: str) -> None:
        """Formula edits preview live; a refused formula shows its one line inline."""
        if self._updating:
            return
        box = self._disp_params if kind == "displacement" else self._map_params
        w = {x.name: x for x in box}
        try:
            params = {"expr": str(w["expr"].value), **parse_formula_params(w["numbers"].value)}
            if kind == "displacement":
                self.state.set_displacement(FORMULA, params)
            else:
                self.state.set_mapper(FORMULA, params)
        except (ValueError, UserError) as err:
            w["error"].value = str(err)
            return
        w["error"].value = ""
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
            for group in ("translation", "angles_deg", "shear"):
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
        return self.runner.busy or self._full_timer.isActive()

    def request_render(self, full: bool = False) -> None:
        """Render at the drag resolution now and at full resolution once changes pause."""
        drag, top = int(self._drag_res.value), int(self._full_res.value)
        if full or drag >= top:
            self._full_timer.stop()
            self._render_full()
            return
        self._submit(drag)
        self._full_timer.start()

    def _render_full(self) -> None:
        self.history.record()  # the changes have settled: one undo step
        self._submit(int(self._full_res.value))

    def _submit(self, resolution: int) -> None:
        req = self.state.request(resolution, str(self._device.value))
        self.runner.submit(replace(req, surface=self._wants_surface()))

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
