"""The Designer's controls: the widgets of each section (shape, pose, displacement,
mapper, preview), built from the model and laid out; ``designer.Designer`` connects them.

Axes follow one convention everywhere: the engine's coordinate columns 0, 1, 2 are
x, y, z (a formula's ``x``, the Pose panel's "move x", the plot "Δ along x", the viewer's
axis labels), which are also the array axes i, j, k of the volumes and of NIfTI scans.
"""

from __future__ import annotations

import os
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
    TextEdit,
)

from fdif_core.engine.sdf.geometry import GEOMETRIES
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M

from ..model import NONE, DesignState, families, render
from ..model.textures import FORMULA, format_formula_params
from .common import param_widget

AXES = ("x", "y", "z")
"""Names of the engine's coordinate columns 0, 1, 2 (and of the volumes' array axes)."""
POSE_GROUPS = (
    ("translation", tuple(f"move {a}" for a in AXES), 0.5, "fraction of G"),
    ("angles_deg", tuple(f"rot {a}" for a in AXES), 180.0, "degrees (R = Rz·Ry·Rx)"),
    ("shear", ("shear xy", "shear xz", "shear yz"), 0.3, ""),
)
FORMULA_HELP = {
    "displacement": "sees x, y, z (normalised: coordinate / (G/2)) and the numbers below; "
    "perlin(x, y, z, freq), fbm(x, y, z, freq, octaves) and sin, cos, ... ; line breaks "
    "are spaces",
    "mapper": "sees d (signed distance, voxels), x, y, z (object coordinates / (G/2), as "
    "the displacement's) and the numbers below; perlin(x, y, z, f), fbm(...) and sin, "
    "cos, ... ; line breaks are spaces",
}


def leave_a_core_to_the_ui() -> None:
    """When torch would use every core (its default), use one less: the renders share the
    machine with the UI thread, and busy OpenMP workers starve it (measured on 2 cores:
    2 threads made a 64³ preview 5-10x slower under load than 1)."""
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


class DesignerControls(Container):
    """The Designer's widgets (no behaviour): ``Designer`` subclasses it and connects them."""

    state: DesignState

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
            for i, text in enumerate(labels):
                step = 1.0 if group == "angles_deg" else 0.01
                w = FloatSlider(value=0.0, min=-lim, max=lim, step=step, label=text, tooltip=what)
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
        self._warning = Label(value="", name="warning")
        self._warning.native.setWordWrap(True)
        self._warning.native.setStyleSheet("color: #ffc060")
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
        leave_a_core_to_the_ui()
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
        self._zoom = PushButton(text="Zoom to object")
        self._open_path = FileEdit(mode="r", filter="*_design.yaml *.yaml", label="design file")
        self._open = PushButton(text="Open design")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)

    def _lay_out(self) -> None:
        preview = [self._device, self._drag_res, self._full_res, self._threads, self._iso,
                   self._solo_3d]  # fmt: skip
        buttons = [self._undo, self._redo, self._zoom]
        self.extend(
            [
                Container(widgets=buttons, layout="horizontal", labels=False),
                Label(value="<b>Shape</b>"),
                Container(widgets=[self._family, self._primitive, self._geometry], labels=True),
                self._shape,
                Label(value="<b>Pose</b> (x, y, z: the formulas' and plots' axes)"),
                self._pose,
                Label(value="<b>Displacement</b>"),
                Container(widgets=[self._disp_from, self._disp_family, self._space], labels=True),
                self._disp_params,
                self._warning,
                Label(value="<b>Mapper</b>"),
                Container(widgets=[self._map_from, self._map_family], labels=True),
                self._map_params,
                Label(value="<b>Preview</b>"),
                Container(widgets=preview, labels=True),
                Container(widgets=[self._open_path, self._open], labels=True),
                self._status,
            ]
        )

    # ---- the widgets of the model's current values
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
            w = cls(value=self.state.knobs[k.name], min=k.lo, max=k.hi, step=k.step,
                    label=k.label, name=k.name, tooltip=k.tip)  # fmt: skip
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
        """A multi-line formula editor, a field for its named numbers, an inline error."""
        expr = TextEdit(value=str(params.get("expr", "")), label="formula", name="expr",
                        tooltip=FORMULA_HELP[kind])  # fmt: skip
        expr.native.setMinimumHeight(60)
        expr.native.setMaximumHeight(110)
        names = LineEdit(value=format_formula_params(params), label="numbers", name="numbers",
                         tooltip="name=value, name=value")  # fmt: skip
        error = Label(value="", name="error")
        error.native.setWordWrap(True)
        error.native.setStyleSheet("color: #ff8080")
        # (magicgui's TextEdit reports changes on focus out only: follow each keystroke)
        expr.native.textChanged.connect(lambda k=kind: self._on_formula(k))
        names.changed.connect(lambda _=None, k=kind: self._on_formula(k))
        box.extend([expr, names, error])

    # handlers, defined by Designer
    def _on_vertex_count(self, n: int) -> None: ...
    def _on_knob(self, _: Any = None) -> None: ...
    def _on_param(self, kind: str) -> None: ...
    def _on_formula(self, kind: str) -> None: ...
