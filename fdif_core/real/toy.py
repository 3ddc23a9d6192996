"""Tiny generated labelled datasets in each supported layout (tests and demos).

Each case is a noisy volume holding a bright ball (class 1) and a darker box (class 2) at
case-dependent positions, written as NIfTI with an LPS-like affine and anisotropic spacing
so that orientation and resampling are exercised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from ..io.atomic import atomic_path, write_text

ToyLayout = Literal["nnunet", "msd", "datalist"]
TOY_LABELS = ["background", "ball", "box"]


def toy_case(
    index: int, shape: tuple[int, int, int] = (24, 24, 16), channels: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Image ``(channels, *shape)`` float32 and label ``shape`` uint8 of case ``index``."""
    rng = np.random.default_rng([seed, index])
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    c = np.array(shape) * rng.uniform(0.35, 0.65, 3)
    r = min(shape) * rng.uniform(0.15, 0.25)
    label = np.zeros(shape, np.uint8)
    lo = (np.array(shape) * rng.uniform(0.1, 0.2, 3)).astype(int)
    hi = lo + (np.array(shape) * 0.25).astype(int)
    label[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 2
    label[np.linalg.norm(grid - c, axis=-1) <= r] = 1
    base = np.choose(label, [100.0, 400.0, 250.0]).astype(np.float32)
    image = np.stack(
        [
            base * (1 + 0.2 * k) + rng.normal(0, 20, shape).astype(np.float32)
            for k in range(channels)
        ]
    )
    return image.astype(np.float32), label


def toy_affine(spacing: tuple[float, float, float] = (1.5, 1.5, 3.0)) -> np.ndarray:
    """An LPS-like affine (x and y flipped) with ``spacing``: not RAS, on purpose."""
    aff = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    aff[:3, 3] = [40.0, 30.0, -20.0]
    return aff


def _save(path: Path, arr: np.ndarray, affine: np.ndarray) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(arr, affine)
    img.header.set_data_dtype(arr.dtype)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))


def write_toy_dataset(
    folder: str | Path,
    layout: ToyLayout = "nnunet",
    *,
    num_cases: int = 5,
    num_test: int = 0,
    channels: int = 1,
    modality: str = "MR",
    shape: tuple[int, int, int] = (24, 24, 16),
    seed: int = 0,
) -> Path:
    """Write a toy dataset; returns what ``--dataset`` should name (folder or JSON file).

    Args:
        folder: output folder (created).
        layout: ``nnunet`` (``imagesTr/case_0000.nii.gz`` ...), ``msd`` (4D multi-channel
            images, Decathlon ``dataset.json``) or ``datalist`` (MONAI JSON file with a
            validation list: the last training case).
        num_cases: labelled cases; ``num_test``: extra labelled test cases.
        channels, modality: input channels, all of the same modality name.
    """
    root = Path(folder)
    aff = toy_affine()
    ids = [f"toy_{i:03d}" for i in range(num_cases + num_test)]
    entries: dict[str, list] = {"training": [], "test": []}
    for i, cid in enumerate(ids):
        image, label = toy_case(i, shape, channels, seed)
        test = i >= num_cases
        img_dir = root / ("imagesTs" if test else "imagesTr")
        lab_dir = root / ("labelsTs" if test else "labelsTr")
        if layout == "nnunet":
            for k in range(channels):
                _save(img_dir / f"{cid}_{k:04d}.nii.gz", image[k], aff)
            img_rel: str | list[str] = f"{img_dir.name}/{cid}_0000.nii.gz"
        else:
            data = image[0] if channels == 1 else np.moveaxis(image, 0, -1)
            _save(img_dir / f"{cid}.nii.gz", data, aff)
            img_rel = f"./{img_dir.name}/{cid}.nii.gz"
        _save(lab_dir / f"{cid}.nii.gz", label, aff)
        entries["test" if test else "training"].append(
            {"image": img_rel, "label": f"./{lab_dir.name}/{cid}.nii.gz"}
        )
    if layout == "nnunet":
        meta = {
            "name": "toy",
            "channel_names": {str(k): modality for k in range(channels)},
            "labels": {n: v for v, n in enumerate(TOY_LABELS)},
            "numTraining": num_cases,
            "file_ending": ".nii.gz",
        }
        write_text(root / "dataset.json", json.dumps(meta, indent=2))
        return root
    meta = {
        "name": "toy",
        "modality": {str(k): modality for k in range(channels)},
        "labels": {str(v): n for v, n in enumerate(TOY_LABELS)},
        "numTraining": num_cases,
        "training": entries["training"],
        "test": entries["test"],
    }
    if layout == "msd":
        meta["test"] = [e["image"] for e in entries["test"]]
        write_text(root / "dataset.json", json.dumps(meta, indent=2))
        return root
    meta["validation"] = meta["training"][-1:]
    meta["training"] = meta["training"][:-1]
    path = root / "datalist.json"
    write_text(path, json.dumps(meta, indent=2))
    return path
