"""The Export panel: writes the Scene's sample (or the design) to NIfTI and PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton
from napari.utils.notifications import show_info

from ..model import check_instance_name, render
from .common import guarded, session_for


class Export(Container):
    """Save the current scene sample (or the design) as NIfTI image + label and a PNG montage."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._source = ComboBox(
            choices=["scene sample", "design"], value="scene sample", label="source"
        )
        self._dir = FileEdit(mode="d", label="folder")
        self._stem = LineEdit(value="fdif_sample", label="file stem")
        self._go = PushButton(text="Export NIfTI + PNG")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        self.extend([self._source, self._dir, self._stem, self._go, self._status])
        self._go.changed.connect(self._on_export)

    @guarded
    def _on_export(self, _: Any = None) -> None:
        folder = str(self._dir.value)
        if not folder or folder == ".":
            raise ValueError("choose an output folder")
        paths = self.export(folder, str(self._stem.value), str(self._source.value))
        self._status.value = f"wrote {len(paths)} files to {folder}"
        show_info(f"exported {', '.join(p.name for p in paths)}")

    def export(self, folder: str | Path, stem: str, source: str = "scene sample") -> list[Path]:
        """Write ``<stem>_image.nii.gz``, ``<stem>_label.nii.gz`` and ``<stem>_montage.png``."""
        from fdif_core.nifti import save_nifti
        from fdif_core.preview import montage, save_png

        stem = check_instance_name(stem)
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        if source == "design":
            req = self.session.design.request(self.session.design.grid)
            vol = render.render_volumes(req)
            image, label, spacing = vol.image, vol.label, (1.0, 1.0, 1.0)
        else:
            if self.session.sample is None:
                raise ValueError("no scene sample yet: render one in the Scene widget first")
            s = self.session.sample
            image, label = s.image.cpu().numpy(), s.label.cpu().numpy()
            preset = self.session.sample_preset or self.session.draft.base
            spacing = tuple(  # a preview resolution keeps the physical extent
                sp * ref / n
                for sp, ref, n in zip(
                    preset.volume.spacing, preset.volume.shape, image.shape, strict=True
                )
            )
        paths = [
            out / f"{stem}_image.nii.gz",
            out / f"{stem}_label.nii.gz",
            out / f"{stem}_montage.png",
        ]
        save_nifti(paths[0], image, spacing)  # type: ignore[arg-type]
        save_nifti(paths[1], label, spacing)  # type: ignore[arg-type]
        save_png(paths[2], montage(image, label))
        return paths
