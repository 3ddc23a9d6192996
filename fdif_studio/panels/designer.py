"""The Designer panel: one primitive (class, shape, pose, displacement, mapper), live."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSlider, Label, Slider, SpinBox
from qtpy.QtCore import QTimer

from fdif_core import displacements as D
from fdif_core import mappers as M

from ..model import NONE, DesignState, families, render
from .common import (
    DESIGN_LAYERS,
    LatestRunner,
    guarded,
    param_widget,
    session_for,
    set_layer,
    show_point_inside,
)


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
        yield render.isosurface(vol.phi, request.recipe.shape, request.version)


class Designer(Container):
    """Design one primitive: class and shape, pose, displacement, mapper; live previews."""

    def __init__(self, napari_viewer: Any, threaded: bool = True) -> None:
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.state: DesignState = self.session.design
        self._updating = False
        fams = families()
        self._family = ComboBox(choices=list(fams), value="basic", label="family", name="family")
        self._primitive = ComboBox(
            choices=fams["basic"], value=self.state.primitive, label="class", name="primitive"
        )
        self._shape = Container(labels=True, name="shape")
        self._pose = Container(labels=True, name="pose")
        self.pose_widgets: dict[str, FloatSlider] = {}
        for group, labels, lim, what in (
            ("translation", ("z", "y", "x"), 0.5, "fraction of G"),
            ("angles_deg", ("rot 0", "rot 1", "rot 2"), 180.0, "degrees"),
            ("shear", ("shear 01", "shear 02", "shear 12"), 0.3, ""),
        ):
            for i, lab in enumerate(labels):
                step = 1.0 if group == "angles_deg" else 0.01
                text = f"move {lab}" if group == "translation" else lab
                w = FloatSlider(value=0.0, min=-lim, max=lim, step=step, label=text, tooltip=what)
                w.changed.connect(self._on_pose)
                self._pose.append(w)
                self.pose_widgets[f"{group}{i}"] = w
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
        devices = ["cpu"] + (["cuda"] if render.default_device() == "cuda" else [])
        self._device = ComboBox(choices=devices, value=render.default_device(), label="device")
        self._drag_res = ComboBox(choices=[32, 48, 64, 96], value=64, label="drag res.")
        self._full_res = ComboBox(choices=[48, 64, 96, 128, 160], value=96, label="full res.")
        self._iso = CheckBox(value=True, label="isosurface")
        _leave_a_core_to_the_ui()
        self._threads = SpinBox(
            value=torch.get_num_threads(),
            min=1,
            max=max(1, os.cpu_count() or 1),
            label="CPU threads",
            tooltip="torch intra-op threads (process-wide); 1 keeps a core free for the UI",
        )
        self._solo_3d = CheckBox(value=True, label="3D: isosurface only")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        self.extend(
            [
                Label(value="<b>Shape</b>"),
                Container(widgets=[self._family, self._primitive], labels=True),
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
                Container(
                    widgets=[
                        self._device,
                        self._drag_res,
                        self._full_res,
                        self._threads,
                        self._iso,
                        self._solo_3d,
                    ],
                    labels=True,
                ),
                self._status,
            ]
        )
        self._family.changed.connect(self._on_family)
        self._primitive.changed.connect(self._on_primitive)
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
        self.viewer.dims.events.ndisplay.connect(self._on_ndisplay)
        self._full_timer = QTimer()
        self._full_timer.setSingleShot(True)
        self._full_timer.setInterval(400)
        self._full_timer.timeout.connect(self._render_full)
        self.runner = LatestRunner(_design_work, self._on_result, threaded=threaded)
        self.shown_version = -1
        self.timings: dict[str, float] = {}
        self.sync()
        self.request_render(full=True)

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
        for name, value in params.items():
            w = param_widget(name, value)
            w.changed.connect(lambda _=None, k=kind: self._on_param(k))
            box.append(w)

    def sync(self) -> None:
        """Refresh every widget from the model (after a model change made elsewhere)."""
        self._updating = True
        try:
            self._family.value = self.state.cls.family
            self._primitive.choices = families()[self.state.cls.family]
            self._primitive.value = self.state.primitive
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
            return
        if kind == "displacement":
            values = {n: w.value for n, w in self.displacement_widgets.items()}
            self.state.set_displacement(self.state.displacement, values)
        else:
            values = {n: w.value for n, w in self.mapper_widgets.items()}
            self.state.set_mapper(self.state.mapper, values)
        self.request_render()

    def _on_iso(self, on: bool) -> None:
        if DESIGN_LAYERS[2] in self.viewer.layers:
            self.viewer.layers[DESIGN_LAYERS[2]].visible = bool(on)
        if on:
            self.request_render()

    def _on_ndisplay(self, _: Any = None) -> None:
        """In 3D show the isosurface alone (volume renderings would hide it); slices in 2D."""
        try:
            if not self._solo_3d.value:
                return
        except RuntimeError:  # the widget was closed; the viewer lives on
            return
        three_d = self.viewer.dims.ndisplay == 3
        for name in DESIGN_LAYERS[:2]:
            if name in self.viewer.layers:
                self.viewer.layers[name].visible = not three_d

    # ---- rendering
    @property
    def busy(self) -> bool:
        return self.runner.busy or self._full_timer.isActive()

    def request_render(self, full: bool = False) -> None:
        """Render at the drag resolution now and at full resolution once changes pause."""
        drag, top = int(self._drag_res.value), int(self._full_res.value)
        if full or drag >= top:
            self._full_timer.stop()
            self._submit(top)
            return
        self._submit(drag)
        self._full_timer.start()

    def _render_full(self) -> None:
        self._submit(int(self._full_res.value))

    def _submit(self, resolution: int) -> None:
        req = self.state.request(resolution, str(self._device.value))
        self.runner.submit(replace(req, surface=bool(self._iso.value)))

    def _on_result(self, result: Any) -> None:
        if result.version < self.shown_version:
            return  # stale
        self.shown_version = result.version
        if isinstance(result, render.Volumes):
            first = DESIGN_LAYERS[0] not in self.viewer.layers
            kw = {"scale": result.scale, "translate": result.translate}
            set_layer(
                self.viewer, DESIGN_LAYERS[0], "image", result.image,
                contrast_limits=(0, 128), colormap="gray", **kw,
            )  # fmt: skip
            set_layer(
                self.viewer, DESIGN_LAYERS[1], "labels", result.label, opacity=0.4,
                features=render.label_features(["background", self.state.primitive]), **kw,
            )  # fmt: skip
            show_point_inside(self.viewer, self.viewer.layers[DESIGN_LAYERS[0]])
            if first:
                self._on_ndisplay()
            self.timings["volumes"] = result.seconds
            self._status.value = (
                f"{result.image.shape[0]}³ field + slices {result.seconds * 1e3:.0f} ms"
            )
        elif isinstance(result, render.Surface):
            self.timings["surface"] = result.seconds
            verts, faces = result.vertices, result.faces
            if result.empty:  # keep a valid (degenerate) mesh; hide it
                verts, faces = np.zeros((3, 3), np.float32), np.array([[0, 1, 2]])
            layer = set_layer(
                self.viewer, DESIGN_LAYERS[2], "surface", (verts, faces),
                colormap="bop orange", shading="smooth",
            )  # fmt: skip
            layer.visible = not result.empty
            self._status.value += f"; isosurface {result.seconds * 1e3:.0f} ms"
