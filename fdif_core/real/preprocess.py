"""Preprocessing as the field does it, from MONAI transforms.

RAS orientation, resampling to a target spacing (given, or the dataset's median spacing as
nnU-Net plans it), intensity normalisation (CT: clip to the 0.5/99.5 percentiles of the
foreground intensities and z-score with their mean and std, as nnU-Net; or a given HU window
scaled to [0, 1], as the SwinUNETR BTCV recipe; anything else: per-image z-score) and a
foreground crop. :class:`Plan` holds the resolved numbers; it is stored with each fine-tuned
checkpoint so evaluation preprocesses exactly as training did.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..dtypes import label_dtype
from ..errors import UserError
from .datalist import Case, Dataset

if TYPE_CHECKING:
    import torch

Normalization = Literal["auto", "ct", "window", "zscore", "none"]
FOREGROUND_SAMPLES = 10_000  # foreground voxels sampled per case for CT statistics (nnU-Net)


@dataclass
class Plan:
    """Resolved preprocessing of one dataset (plain data; JSON-serialisable).

    Attributes:
        spacing: target voxel spacing (mm) in RAS axis order.
        normalization: ``ct`` (percentile clip + foreground z-score), ``window`` (HU window
            to [0, 1]), ``zscore`` (per image) or ``none``.
        clip: intensity clip range (``ct``: foreground percentiles; ``window``: the window).
        mean, std: foreground mean and std after clipping (``ct`` only).
        crop_foreground: crop every case to its foreground (non-zero / above-window) box.
        channels, labels: the dataset's channel modalities and class names.
    """

    spacing: tuple[float, float, float]
    normalization: Literal["ct", "window", "zscore", "none"]
    clip: tuple[float, float] | None = None
    mean: float | None = None
    std: float | None = None
    crop_foreground: bool = True
    channels: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        d = dict(d)
        d["spacing"] = tuple(d["spacing"])
        if d.get("clip") is not None:
            d["clip"] = tuple(d["clip"])
        return cls(**d)

    def digest(self) -> str:
        """Stable digest (names a preprocessing cache)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def ras_spacing(path: str) -> tuple[float, float, float]:
    """Voxel spacing of a NIfTI file in RAS axis order (after ``Orientationd("RAS")``)."""
    import nibabel as nib

    img = nib.load(path)
    zooms = np.sqrt((img.affine[:3, :3] ** 2).sum(0))
    out = [0.0, 0.0, 0.0]
    for axis_in, (axis_out, _) in enumerate(nib.io_orientation(img.affine)):
        out[int(axis_out)] = float(zooms[axis_in])
    return (out[0], out[1], out[2])


def median_spacing(cases: list[Case]) -> tuple[float, float, float]:
    """nnU-Net's target spacing: the per-axis median over the training cases."""
    from monai.transforms import LoadImage

    spacings = []
    for c in cases:
        f = str(c.images[0])
        if f.endswith((".nii", ".nii.gz")):
            spacings.append(ras_spacing(f))
        else:  # other formats: read through MONAI (slower, still correct)
            with tracking_meta():
                img = LoadImage(image_only=True)(f)
            spacings.append(tuple(float(s) for s in img.pixdim[:3]))
    med = np.median(np.asarray(spacings), axis=0)
    return (float(med[0]), float(med[1]), float(med[2]))


def foreground_intensities(
    cases: list[Case], seed: int = 1234, labels: list[str] | None = None
) -> np.ndarray:
    """Intensities under the label (> 0), up to 10k sampled voxels per case (nnU-Net)."""
    from .checks import LoadChecked

    load = LoadChecked(["image", "label"], labels=labels)
    rng = np.random.default_rng(seed)
    out = []
    for c in cases:
        d = _guarded(load, c.item(), c.id)
        img = np.asarray(d["image"])[0]
        lab = np.asarray(d["label"])[0]
        fg = img[lab > 0]
        if fg.size == 0:
            continue
        if fg.size > FOREGROUND_SAMPLES:
            fg = rng.choice(fg, FOREGROUND_SAMPLES, replace=False)
        out.append(fg.astype(np.float64))
    if not out:
        raise UserError("dataset: no foreground voxel in any training label; cannot plan CT")
    return np.concatenate(out)


def make_plan(
    ds: Dataset,
    train_ids: list[str],
    *,
    spacing: tuple[float, float, float] | None = None,
    normalization: Normalization = "auto",
    ct_window: tuple[float, float] | None = None,
    crop_foreground: bool = True,
) -> Plan:
    """Resolve the preprocessing of ``ds`` from its training cases (nnU-Net's fingerprint).

    Args:
        ds: the dataset.
        train_ids: the cases statistics are taken from (never the validation cases).
        spacing: target spacing in mm (RAS order); None = the median training spacing.
        normalization: ``auto`` picks ``window`` for CT with a ``ct_window``, ``ct`` for CT
            otherwise, ``zscore`` for any other modality.
        ct_window: HU window mapped to [0, 1] for ``window``.
        crop_foreground: crop to the foreground box.
    """
    cases = [ds.cases[i] for i in train_ids]
    ct = [m.upper() == "CT" for m in ds.channels]
    if normalization == "auto":
        normalization = ("window" if ct_window else "ct") if all(ct) else "zscore"
    if normalization in ("ct", "window") and len(ds.channels) > 1:
        raise UserError(
            f"normalization {normalization}: the dataset has {len(ds.channels)} channels "
            f"{ds.channels}; CT normalisation needs one CT channel (use zscore)"
        )
    if normalization == "window" and ct_window is None:
        raise UserError("normalization window: set finetune.preprocess.ct_window, e.g. [-175, 250]")
    sp = tuple(float(s) for s in spacing) if spacing else median_spacing(cases)
    plan = Plan(
        spacing=(sp[0], sp[1], sp[2]),
        normalization=normalization,
        crop_foreground=crop_foreground,
        channels=list(ds.channels),
        labels=list(ds.labels),
    )
    if normalization == "window":
        plan.clip = (float(ct_window[0]), float(ct_window[1]))
    elif normalization == "ct":
        fg = foreground_intensities(cases, labels=list(ds.labels))
        lo, hi = np.percentile(fg, [0.5, 99.5])
        fg = np.clip(fg, lo, hi)
        plan.clip = (float(lo), float(hi))
        plan.mean, plan.std = float(fg.mean()), float(max(fg.std(), 1e-8))
    return plan


def nonzero(x):
    """Foreground of raw images: every voxel that is not exactly 0 (nnU-Net's crop)."""
    return x != 0


def positive(x):
    """Foreground after a [0, 1] window: voxels above the window's low end."""
    return x > 0


def preprocess_transforms(plan: Plan, *, label: bool = True):
    """Deterministic MONAI pipeline: load, RAS, resample, crop, normalise.

    Args:
        plan: the resolved preprocessing.
        label: also load and resample the ``label`` key (nearest neighbour).

    Returns:
        An invertible ``monai.transforms.Compose`` over ``{"image", "label"}`` items.
    """
    from monai import transforms as T

    keys = ["image", "label"] if label else ["image"]
    modes = ["bilinear", "nearest"] if label else ["bilinear"]
    from .checks import LoadChecked

    steps: list[Any] = [
        LoadChecked(keys, len(plan.channels) or None, plan.labels or None, image_only=True),
        T.EnsureTyped(keys, dtype=np.float32, track_meta=True),
        T.Orientationd(keys, axcodes="RAS", labels=None),
        T.Spacingd(keys, pixdim=plan.spacing, mode=modes),
    ]
    fg = positive if plan.normalization == "window" else nonzero
    crop = T.CropForegroundd(keys, source_key="image", select_fn=fg, allow_smaller=True)
    if plan.crop_foreground and plan.normalization != "window":
        steps.append(crop)
    if plan.normalization == "window":
        lo, hi = plan.clip
        steps.append(T.ScaleIntensityRanged("image", lo, hi, 0.0, 1.0, clip=True))
        if plan.crop_foreground:
            steps.append(crop)
    elif plan.normalization == "ct":
        lo, hi = plan.clip
        steps.append(T.ScaleIntensityRanged("image", lo, hi, lo, hi, clip=True))  # clip only
        steps.append(T.NormalizeIntensityd("image", subtrahend=plan.mean, divisor=plan.std))
    elif plan.normalization == "zscore":
        steps.append(T.NormalizeIntensityd("image", channel_wise=True))
    if label:
        dtype = np.dtype(label_dtype(len(plan.labels)))
        steps.append(T.EnsureTyped("label", dtype=dtype, track_meta=True))
    return T.Compose(steps)


def augment_transforms(
    patch_size: tuple[int, int, int],
    *,
    crops: int = 1,
    pos: float = 1.0,
    neg: float = 1.0,
    flip_prob: float = 0.1,
    rot90_prob: float = 0.1,
    rotate_deg: float = 0.0,
    rotate_prob: float = 0.0,
    scale_intensity: float = 0.1,
    shift_intensity: float = 0.1,
    intensity_prob: float = 0.5,
):
    """Random training transforms on a preprocessed case (MONAI), returning ``crops`` patches.

    Foreground/background crop sampling (``RandCropByPosNegLabeld``, ratio pos:neg), flips
    per axis, 90-degree rotations, small rotations, intensity scaling and shifting.
    """
    import math

    from monai import transforms as T

    keys = ["image", "label"]
    steps: list[Any] = [
        T.SpatialPadd(keys, spatial_size=patch_size),
        T.RandCropByPosNegLabeld(
            keys, "label", patch_size, pos=pos, neg=neg, num_samples=crops, image_key=None
        ),
    ]
    steps += [T.RandFlipd(keys, prob=flip_prob, spatial_axis=a) for a in range(3)]
    if rot90_prob > 0:
        steps.append(T.RandRotate90d(keys, prob=rot90_prob, max_k=3))
    if rotate_prob > 0 and rotate_deg > 0:
        r = math.radians(rotate_deg)
        steps.append(
            T.RandRotated(
                keys, r, r, r, prob=rotate_prob, mode=["bilinear", "nearest"], keep_size=True
            )
        )
    if scale_intensity > 0:
        steps.append(T.RandScaleIntensityd("image", scale_intensity, prob=intensity_prob))
    if shift_intensity > 0:
        steps.append(T.RandShiftIntensityd("image", shift_intensity, prob=intensity_prob))
    steps.append(T.EnsureTyped(keys, track_meta=False))
    return T.Compose(steps)


@contextlib.contextmanager
def tracking_meta() -> Iterator[None]:
    """MONAI meta-data tracking on (affines for orientation, resampling, inversion), restored
    afterwards: another part of the process may have switched it off globally."""
    from monai.data import get_track_meta, set_track_meta

    before = get_track_meta()
    set_track_meta(True)
    try:
        yield
    finally:
        set_track_meta(before)


def _guarded(transform, item: dict[str, Any], case_id: str):
    """Apply ``transform``; any failure becomes a one-line ``UserError`` naming the case."""
    try:
        with tracking_meta():
            return transform(item)
    except UserError:
        raise
    except Exception as err:
        inner: BaseException | None = err
        while inner is not None:  # MONAI wraps what a transform raised
            if isinstance(inner, UserError):
                raise UserError(str(inner)) from None
            inner = inner.__cause__ or inner.__context__
        root: BaseException = err
        while root.__cause__ is not None:
            root = root.__cause__
        msg = (str(root).strip().splitlines() or [type(root).__name__])[0]
        raise UserError(f"case {case_id}: cannot load or preprocess ({msg[:160]})") from None


def case_geometry(image: Any) -> dict[str, torch.Tensor] | None:
    """What inverting the preprocessing needs, as plain tensors (they survive a disk cache
    that drops MONAI's meta-data): the preprocessed and the original affine, the original
    spatial shape. None when the image carries no meta-data."""
    import torch

    meta = getattr(image, "meta", None) or {}
    if "original_affine" not in meta or "spatial_shape" not in meta:
        return None
    return {
        "affine": torch.as_tensor(np.asarray(image.affine, np.float64)),
        "original_affine": torch.as_tensor(np.asarray(meta["original_affine"], np.float64)),
        "spatial_shape": torch.as_tensor(
            np.asarray(meta["spatial_shape"]).ravel()[:3].astype(np.int64)
        ),
    }


def preprocess_case(transform, item: dict[str, Any]) -> dict[str, Any]:
    """Preprocess one datalist item; errors name its case."""
    return _guarded(transform, item, str(item.get("case", item.get("image"))))
