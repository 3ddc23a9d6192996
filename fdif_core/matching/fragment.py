"""The fit's outputs: the preset fragment (YAML), merging it into a preset, the preview NIfTI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..engine.textures import displacements as D
from ..engine.textures import mappers as M
from ..io.atomic import atomic_path, write_text

DEFAULTS = {"displacements": D.PAPER_DISPLACEMENTS, "mappers": M.PAPER_MAPPERS}


def fragment_yaml(fragment: dict[str, Any], header: list[str] = ()) -> str:  # type: ignore[assignment]
    """The fragment as YAML, with ``header`` lines as comments on top."""
    import yaml

    top = "".join(f"# {line}\n" for line in header)
    return top + yaml.safe_dump(fragment, sort_keys=False, default_flow_style=None)


def merge_fragment(preset: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """``preset`` (its YAML data) with the fragment's instances added to its ``enabled``
    lists (a list the preset leaves out starts from its default, the paper's instances);
    instances of the same name are replaced. ``preset`` itself is not changed."""
    out = dict(preset)
    for kind in ("displacements", "mappers"):
        new = fragment.get(kind, {}).get("enabled", [])
        if not new:
            continue
        section = dict(out.get(kind) or {})
        names = {item["name"] for item in new}
        enabled = list(section.get("enabled", DEFAULTS[kind]))
        kept = [e for e in enabled if (e if isinstance(e, str) else e.get("name")) not in names]
        section["enabled"] = kept + [dict(item) for item in new]
        out[kind] = section
    return out


def save_preview(path: str | Path, image: np.ndarray, affine: np.ndarray) -> None:
    """Write ``image`` (float32, scan units) as NIfTI with ``affine`` (sform and qform)."""
    import nibabel as nib

    arr = np.ascontiguousarray(image, dtype=np.float32)
    img = nib.Nifti1Image(arr, affine)
    img.header.set_xyzt_units("mm")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))


def save_text(path: str | Path, text: str) -> None:
    write_text(path, text)
