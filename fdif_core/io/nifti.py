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
    arr = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    write_nifti(path, arr, affine(spacing))


def write_nifti(path: str | Path, arr: np.ndarray, voxel_to_world: np.ndarray) -> None:
    """Write ``arr`` (its dtype kept) with the affine ``voxel_to_world`` (mm), atomically."""
    import nibabel as nib

    img = nib.Nifti1Image(arr, voxel_to_world)
    img.header.set_data_dtype(arr.dtype)
    img.header.set_xyzt_units("mm")
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))


def nifti_bytes(
    data: torch.Tensor | np.ndarray, spacing: tuple[float, float, float], compresslevel: int = 6
) -> bytes:
    """``data`` (its dtype kept) as the bytes of a deterministic ``.nii.gz`` file.

    The gzip header carries no file name and mtime 0, so equal arrays give equal bytes.
    qform and sform both hold the spacing affine (code 1, scanner), which every reader
    (nibabel, ITK/SimpleITK, MONAI) takes the same way.
    """
    import gzip

    import nibabel as nib

    arr = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    aff = affine(spacing)
    img = nib.Nifti1Image(np.ascontiguousarray(arr), aff)
    img.header.set_data_dtype(arr.dtype)
    img.header.set_xyzt_units("mm")
    img.set_qform(aff, code=1)
    img.set_sform(aff, code=1)
    return gzip.compress(img.to_bytes(), compresslevel=compresslevel, mtime=0)
