"""Checks at the door of a real dataset: every refusal names the case and the file.

Headers are checked when a dataset is read (:func:`check_dims`: 3D volumes, or 4D
channel-last files where the layout keeps channels in one file); voxels when a case is
first loaded (:class:`LoadChecked`, the first step of the preprocessing): images finite,
labels whole numbers within the dataset's declared classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

SHOWN = 5  # offending values listed in a message
MAX_CASE_VOXELS = 1 << 31  # voxels of one image or label file (8 GiB as float32)


def _name(files: Any, channel: int = 0) -> str:
    if isinstance(files, (list, tuple)):
        return str(files[min(channel, len(files) - 1)])
    return str(files)


def check_dims(case_id: str, file: Path, shape: Sequence[int], *, what: str, channels: int) -> None:
    """``shape`` (a NIfTI header's) is a 3D volume, or 4D with ``channels`` last.

    A trailing axis of 1 is a 3D volume too.
    """
    dims = tuple(int(s) for s in shape)
    n = math.prod(dims)
    if n > MAX_CASE_VOXELS:
        raise UserError(
            f"case {case_id}: {what} {file} claims {n:,} voxels (shape {dims}); at most "
            f"{MAX_CASE_VOXELS:,} per file"
        )
    while len(dims) > 3 and dims[-1] == 1:
        dims = dims[:-1]
    ok = len(dims) == 3 or (len(dims) == 4 and what == "image" and dims[3] == channels > 1)
    if not ok:
        allowed = (
            f"3D, or 4D with the {channels} channels last"
            if what == "image" and channels > 1
            else "3D"
        )
        raise UserError(
            f"case {case_id}: {what} {file} is {len(dims)}D, shape {dims}; allowed: {allowed}"
        )


def check_image(image: Any, case_id: str, files: Any, channels: int | None = None) -> None:
    """A loaded image ``(C, D, H, W)``: 3 spatial axes, ``channels`` channels, all finite."""
    import torch

    t = torch.as_tensor(image)
    if t.ndim != 4:
        raise UserError(
            f"case {case_id}: image {_name(files)} has {t.ndim - 1} spatial axes "
            f"(shape {tuple(t.shape[1:])}); allowed: 3D volumes"
        )
    if channels is not None and t.shape[0] != channels:
        raise UserError(
            f"case {case_id}: image {_name(files)} has {t.shape[0]} channel(s); "
            f"the dataset names {channels}"
        )
    if t.is_floating_point():
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            per_channel = bad.flatten(1).sum(1)
            c = int(torch.nonzero(per_channel)[0, 0])
            nan = int(torch.isnan(t[c]).sum())
            inf = int(per_channel[c]) - nan
            raise UserError(
                f"case {case_id}: image {_name(files, c)} has {nan:,} NaN and {inf:,} inf "
                "voxel(s); allowed: finite intensities"
            )


def check_label(label: Any, case_id: str, file: Any, labels: Sequence[str]) -> None:
    """A loaded label map: one channel, whole numbers within ``0..len(labels)-1``."""
    import torch

    t = torch.as_tensor(label)
    spatial = t.shape[1:] if t.ndim == 4 else t.shape
    if (t.ndim == 4 and t.shape[0] != 1) or len(spatial) != 3:
        raise UserError(
            f"case {case_id}: label {_name(file)} has shape {tuple(t.shape)}; allowed: one 3D "
            "label map"
        )
    n = len(labels)
    if t.is_floating_point():
        whole = torch.isfinite(t) & (t == torch.round(t))
        if not bool(whole.all()):
            odd = torch.unique(t[~whole])[:SHOWN].tolist()
            raise UserError(
                f"case {case_id}: label {_name(file)} holds non-integer values "
                f"{', '.join(f'{v:g}' for v in odd)}; allowed: whole numbers 0..{n - 1}"
            )
    if t.numel() and (float(t.min()) < 0 or float(t.max()) > n - 1):
        vals = torch.unique(t)
        odd = [int(v) for v in vals.tolist() if not 0 <= v <= n - 1]
        shown = ", ".join(map(str, odd[:SHOWN])) + (", ..." if len(odd) > SHOWN else "")
        raise UserError(
            f"case {case_id}: label {_name(file)} holds value(s) {shown} outside the dataset's "
            f"classes 0..{n - 1} ({', '.join(labels[:SHOWN])}{', ...' if n > SHOWN else ''})"
        )


def check_label_array(label: np.ndarray, case_id: str, file: Any, labels: Sequence[str]) -> None:
    """:func:`check_label` for a plain array ``(D, H, W)``."""
    import torch

    check_label(torch.from_numpy(np.ascontiguousarray(label)), case_id, file, labels)


class LoadChecked:
    """``LoadImaged`` (channel first) followed by the voxel checks of this module.

    Args:
        keys: ``image`` and optionally ``label``.
        channels: the dataset's channel count (None: not checked).
        labels: the dataset's class names (None: label values not checked).
    """

    def __init__(
        self,
        keys: Sequence[str],
        channels: int | None = None,
        labels: Sequence[str] | None = None,
        **load_kw: Any,
    ) -> None:
        from monai.transforms import LoadImaged

        self.keys = tuple(keys)
        self.channels = channels
        self.labels = list(labels) if labels is not None else None
        self.loads = {k: LoadImaged(k, ensure_channel_first=True, **load_kw) for k in keys}

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        files = {k: data.get(k) for k in self.keys}
        case = str(data.get("case", _name(files.get("image"))))
        out = data
        for key, load in self.loads.items():
            if key not in out:
                continue
            try:
                out = load(out)
            except Exception as err:  # nibabel, ITK, gzip... raise many kinds
                root: BaseException = err
                while root.__cause__ is not None:
                    root = root.__cause__
                msg = (str(root).strip().splitlines() or [type(root).__name__])[0][:120]
                raise UserError(
                    f"case {case}: cannot read {key} {_name(files[key])} ({msg})"
                ) from None
        check_image(out["image"], case, files["image"], self.channels)
        if "label" in self.keys and self.labels is not None and "label" in out:
            check_label(out["label"], case, files["label"], self.labels)
        return out


def padding_note(
    shapes: Sequence[tuple[int, ...]], patch_size: Sequence[int], total: int, what: str
) -> str | None:
    """One line when some of ``total`` volumes (``shapes``) are smaller than the patch: they
    are zero-padded to it, for pre-training and fine-tuning alike."""
    patch = tuple(patch_size)
    small = [s for s in shapes if any(a < p for a, p in zip(s, patch, strict=True))]
    if not small:
        return None
    least = tuple(min(s[a] for s in small) for a in range(3))
    return (
        f"note: {len(small)} of {total} {what} are smaller than the patch {patch} "
        f"(down to {least}); they are zero-padded to it"
    )
