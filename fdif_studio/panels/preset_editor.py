"""The Preset editor panel: classes, textures, volume and labels of a preset; load, save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fdif_core.errors import UserError
from fdif_core.presets.catalog import shipped_presets

from ..model import LABEL_MODES, check_instance_name, families, merge_order
from .common import guarded, session_for


class PresetEditor(QWidget):
    """Edit the preset: classes, displacements, mappers, volume, labels; load and save YAML."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.draft = self.session.draft
        self._updating = False
        shipped = [n for n in shipped_presets() if "/" not in n]
        self._shipped = ComboBox(choices=shipped, value="quickstart", label="shipped")
        self._load_shipped = PushButton(text="Load shipped preset")
        self._file = FileEdit(mode="r", filter="*.yaml", label="file")
        self._load_file = PushButton(text="Load file")
        self._name = LineEdit(value=self.draft.name, label="name")
        self._seed = SpinBox(value=self.draft.seed, min=0, max=2**31 - 1, label="seed")
        self._shape = [
            SpinBox(value=v, min=8, max=512, label=f"shape {i}")
            for i, v in enumerate(self.draft.shape)
        ]
        self._per_volume = SpinBox(
            value=self.draft.per_volume, min=1, max=500, label="objects / volume"
        )
        self._mode = ComboBox(
            choices=list(LABEL_MODES), value=self.draft.label_mode, label="label mode"
        )
        self._classes_text = LineEdit(
            value="", label="set classes", tooltip="names, families, globs or all"
        )
        self._classes_apply = PushButton(text="Set classes")
        self._space = ComboBox(choices=["object", "world"], value=self.draft.space, label="Δ space")
        self._include_none = CheckBox(value=self.draft.include_none, label="include 'none' Δ")
        self._instance_name = LineEdit(value="my_texture", label="instance name")
        self._add_disp = PushButton(text="Add designed displacement")
        self._add_map = PushButton(text="Add designed mapper")
        self._spread = FloatSpinBox(
            value=0.1, min=0.0, max=1.0, step=0.05, label="range spread",
            tooltip="class ranges = design value ± spread × knob span / 2",
        )  # fmt: skip
        self._add_class = PushButton(text="Add designed class (ranges around it)")
        self._save_path = FileEdit(mode="w", filter="*.yaml", label="save as")
        self._save = PushButton(text="Save preset")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        top = Container(
            widgets=[self._shipped, self._load_shipped, self._file, self._load_file, self._name,
                     self._seed, *self._shape, self._per_volume, self._mode],
        )  # fmt: skip
        mid = Container(widgets=[self._classes_text, self._classes_apply])
        tex = Container(widgets=[self._space, self._include_none])
        add = Container(
            widgets=[self._instance_name, self._add_disp, self._add_map, self._spread,
                     self._add_class],
        )  # fmt: skip
        bottom = Container(widgets=[self._save_path, self._save, self._status])
        self.classes = QTreeWidget()
        self.classes.setHeaderLabels(["classes"])
        self.classes.setMinimumHeight(180)
        self.displacements = QListWidget()
        self.mappers = QListWidget()
        for lst in (self.displacements, self.mappers):
            lst.setMinimumHeight(110)

        def head(text: str) -> QWidget:
            return Label(value=f"<b>{text}</b>").native

        lay = QVBoxLayout(self)
        for w in (head("Preset"), top.native, head("Classes (label order kept)"), self.classes,
                  mid.native, head("Displacements Δ (geometric texture)"), tex.native,
                  self.displacements, head("Mappers g (intensity texture)"), self.mappers,
                  head("From the Designer"), add.native, head("Save"), bottom.native):  # fmt: skip
            lay.addWidget(w)
        self._connect()
        self.sync()

    def _connect(self) -> None:
        """Widgets -> model: every control's signal to its handler."""
        self._load_shipped.changed.connect(self._on_load_shipped)
        self._load_file.changed.connect(self._on_load_file)
        self._classes_apply.changed.connect(self._on_classes_text)
        self._add_disp.changed.connect(lambda _=None: self._on_add("displacement"))
        self._add_map.changed.connect(lambda _=None: self._on_add("mapper"))
        self._add_class.changed.connect(self._on_add_class)
        self._save.changed.connect(self._on_save)
        for w in (self._name, self._seed, *self._shape, self._per_volume, self._mode, self._space,
                  self._include_none):  # fmt: skip
            w.changed.connect(self._on_field)
        self.classes.itemChanged.connect(self._on_class_item)
        self.displacements.itemChanged.connect(lambda it: self._on_texture_item("displacement", it))
        self.mappers.itemChanged.connect(lambda it: self._on_texture_item("mapper", it))

    # ---- model -> widgets
    def sync(self) -> None:
        """Show the draft in every widget."""
        self._updating = True
        try:
            d = self.draft
            self._name.value, self._seed.value = d.name, d.seed
            for w, v in zip(self._shape, d.shape, strict=True):
                w.value = v
            self._per_volume.value, self._mode.value = d.per_volume, d.label_mode
            self._space.value, self._include_none.value = d.space, d.include_none
            self.classes.clear()
            chosen = set(d.classes)
            for fam, members in families().items():
                parent = QTreeWidgetItem(self.classes, [f"{fam} ({len(members)})"])
                parent.setFlags(parent.flags() | Qt.ItemIsUserCheckable | Qt.ItemIsAutoTristate)
                for m in members:
                    child = QTreeWidgetItem(parent, [m])
                    child.setFlags(child.flags() | Qt.ItemIsUserCheckable)
                    child.setCheckState(0, Qt.Checked if m in chosen else Qt.Unchecked)
            for lst, entries in ((self.displacements, d.displacements), (self.mappers, d.mappers)):
                lst.clear()
                for e in entries:
                    text = (
                        e.name if e.spec is None else f"{e.name}  [{e.spec.family} {e.spec.params}]"
                    )
                    item = QListWidgetItem(text)
                    item.setData(Qt.UserRole, e.name)
                    item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                    item.setCheckState(Qt.Checked if e.enabled else Qt.Unchecked)
                    lst.addItem(item)
        finally:
            self._updating = False
        self._show_status()

    def _show_status(self) -> None:
        try:
            p = self.draft.to_preset()
            r = p.recipe()
            self._status.value = (
                f"valid: {len(r.label_names) - 1} classes, {len(r.displacements)} Δ, "
                f"{len(r.mappers)} mappers, hash {p.hash()}"
            )
        except (ValueError, UserError) as err:
            self._status.value = f"invalid: {err}"

    def checked_classes(self) -> list[str]:
        out = []
        for i in range(self.classes.topLevelItemCount()):
            parent = self.classes.topLevelItem(i)
            for j in range(parent.childCount()):
                child = parent.child(j)
                if child.checkState(0) == Qt.Checked:
                    out.append(child.text(0))
        return out

    # ---- widgets -> model
    def _changed(self) -> None:
        self._show_status()
        self.session.emit("draft")

    @guarded
    def _on_field(self, _: Any = None) -> None:
        if self._updating:
            return
        d = self.draft
        d.name, d.seed = str(self._name.value), int(self._seed.value)
        d.shape = tuple(int(w.value) for w in self._shape)  # type: ignore[assignment]
        d.per_volume, d.label_mode = int(self._per_volume.value), str(self._mode.value)
        d.space, d.include_none = str(self._space.value), bool(self._include_none.value)
        self._changed()

    def _on_class_item(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        if self._updating or item.childCount():
            return
        self.draft.classes = merge_order(self.draft.classes, self.checked_classes())
        self._changed()

    def _on_texture_item(self, kind: str, item: QListWidgetItem) -> None:
        if self._updating:
            return
        self.draft.set_enabled(kind, item.data(Qt.UserRole), item.checkState() == Qt.Checked)
        self._changed()

    @guarded
    def _on_classes_text(self, _: Any = None) -> None:
        self.draft.set_classes_text(str(self._classes_text.value))
        self.sync()
        self._changed()

    @guarded
    def _on_add(self, kind: str) -> None:
        design = self.session.design
        name = check_instance_name(str(self._instance_name.value))
        spec = (
            design.displacement_spec(name) if kind == "displacement" else design.mapper_spec(name)
        )
        if spec is None:
            raise ValueError("the Designer's displacement is 'none': choose a family first")
        self.draft.add_instance(kind, spec)
        self.sync()
        self._changed()
        show_info(f"added {kind} {name!r} ({spec.family} {spec.params})")

    @guarded
    def _on_add_class(self, _: Any = None) -> None:
        design = self.session.design
        ranges = self.draft.add_design_class(design, float(self._spread.value))
        self.sync()
        self._changed()
        shown = ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in ranges.items())
        show_info(f"class {design.primitive} enabled; ranges: {shown}")

    @guarded
    def _on_load_shipped(self, _: Any = None) -> None:
        self.load(str(self._shipped.value))

    @guarded
    def _on_load_file(self, _: Any = None) -> None:
        path = Path(str(self._file.value))
        if not path.is_file():
            raise ValueError(f"{path}: no such preset file")
        self.load(path)

    def load(self, name_or_path: str | Path) -> None:
        """Load a preset (file or shipped name) into the draft and the widgets."""
        self.draft.load_file(name_or_path)
        self.sync()
        self._changed()

    @guarded
    def _on_save(self, _: Any = None) -> None:
        path = Path(str(self._save_path.value))
        if not str(self._save_path.value) or path.is_dir():
            raise ValueError("choose a file name to save the preset (.yaml)")
        if path.suffix not in (".yaml", ".yml"):
            path = path.with_suffix(".yaml")
        self.save(path)

    def save(self, path: str | Path) -> Path:
        """Validate and write the preset; returns the path."""
        self.draft.save(path)
        self._updating = True
        try:
            self._name.value = self.draft.name  # (the file's name, unless renamed)
        finally:
            self._updating = False
        show_info(f"saved preset {self.draft.name!r} to {path}")
        return Path(path)
