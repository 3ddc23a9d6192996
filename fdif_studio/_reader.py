"""The npe2 reader: NIfTI scans (``.nii``, ``.nii.gz``) through nibabel, placed in mm by
their affine (scale and translate, or the whole affine when rotated)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .model.scans import is_nifti, layer_data, read_scan

LayerData = list[tuple[Any, dict, str]]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], LayerData] | None:
    """npe2 reader hook: a reader for NIfTI paths, None for anything else."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(is_nifti(p) for p in paths):
        return None
    return read_nifti


def read_nifti(path: str | list[str]) -> LayerData:
    """One layer per file: a grayscale image windowed to its 1-99 % range, or a labels
    layer for a mask (integer values, at most 64 labels)."""
    return [layer_data(read_scan(p)) for p in ([path] if isinstance(path, str) else path)]
