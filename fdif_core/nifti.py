"""NIfTI output through nibabel, with the affine taken from the preset's spacing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path


def affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """Voxel -> world (RAS, mm) affine: diagonal spacing, origin at the volume corner."""
    return np.diag([*map(float, spacing), 1.0])


def save_nifti(
    path: str | Path, data: torch.Tensor | np.ndarray, spacing: tuple[float, float, float]
) -> None:
    """Write ``data`` (its dtype kept) as NIfTI-1 atomically; ``.nii.gz`` compresses."""
    import nibabel as nib

    arr = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    img = nib.Nifti1Image(arr, affine(spacing))
    img.header.set_data_dtype(arr.dtype)
    img.header.set_xyzt_units("mm")
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
