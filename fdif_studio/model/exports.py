"""Writing what the studio shows: the Scene's sample or the design as NIfTI image and label,
a PNG montage, and the Designer's settings (``<stem>_design.yaml``) to reopen the design."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fdif_core.io.atomic import atomic_path

from .design import DesignState
from .render import render_volumes
from .session import Session
from .textures import check_instance_name

DESIGN_FORMAT = "fdif-studio design 1"
SOURCES = ("scene sample", "design")
PARTS = ("image.nii.gz", "label.nii.gz", "montage.png", "design.yaml", "preset.yaml")
"""What an export writes, as ``<stem>_<part>``."""


def export_sample(
    session: Session, folder: str | Path, stem: str, source: str = "scene sample"
) -> list[Path]:
    """Write ``<stem>_image.nii.gz``, ``<stem>_label.nii.gz``, ``<stem>_montage.png``,
    ``<stem>_design.yaml`` (the Designer's settings) and ``<stem>_preset.yaml`` (the edited
    preset, validated, named ``<stem>`` unless renamed); returns their paths."""
    from fdif_core.io.nifti import save_nifti
    from fdif_core.io.preview import montage, save_png

    stem = check_instance_name(stem)
    if source not in SOURCES:
        raise ValueError(f"export source {source!r}; allowed: {', '.join(SOURCES)}")
    image, label, spacing, preset = _volumes(session, source)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}_{part}" for part in PARTS]
    session.draft.to_preset()  # the preset is valid before anything is written
    save_nifti(paths[0], image, spacing)
    save_nifti(paths[1], label, spacing)
    save_png(paths[2], montage(image, label))
    save_design(paths[3], session.design, {"source": source, **preset})
    session.draft.save(paths[4])
    return paths


def _volumes(session: Session, source: str) -> tuple[np.ndarray, np.ndarray, tuple, dict]:
    if source == "design":
        d = session.design
        vol = render_volumes(d.request(max(d.shape)))
        return vol.image, vol.label, tuple(d.spacing), {}
    if session.sample is None:
        raise ValueError("no scene sample yet: render one in the Scene widget first")
    s = session.sample
    image, label = s.image.cpu().numpy(), s.label.cpu().numpy()
    preset = session.sample_preset or session.draft.base
    spacing = tuple(  # a preview resolution keeps the physical extent
        sp * ref / n
        for sp, ref, n in zip(preset.volume.spacing, preset.volume.shape, image.shape, strict=True)
    )
    return image, label, spacing, {"preset": preset.name, "preset_hash": preset.hash()}


def save_design(path: str | Path, design: DesignState, extra: dict[str, Any] | None = None) -> Path:
    """Write the design's settings and frame as YAML (atomically)."""
    doc = {
        "format": DESIGN_FORMAT,
        "design": design.settings(),
        "frame": {"shape": list(design.shape), "spacing": list(design.spacing)},
        **(extra or {}),
    }
    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(doc, sort_keys=False))
    return Path(path)


def load_design(path: str | Path) -> dict[str, Any]:
    """Read a design file written by ``save_design``; returns its ``design`` settings.

    Raises:
        ValueError: not a readable YAML design file of this format (the reason named).
    """
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{p}: cannot read the design file ({err.__class__.__name__})") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{p}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(doc, dict) or doc.get("format") != DESIGN_FORMAT:
        raise ValueError(f"{p}: not an FDIF Studio design file (format: {DESIGN_FORMAT!r})")
    design = doc.get("design")
    if not isinstance(design, dict):
        raise ValueError(f"{p}: 'design' must be a mapping of settings")
    return design
