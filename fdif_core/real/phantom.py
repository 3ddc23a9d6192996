"""Full-size synthetic CT-like cases (benchmarks and scale checks, no real scans needed).

An abdomen-sized body ellipse (soft tissue, fat rim) in air, holding 13 organ-sized
ellipsoids (sizes in mm, so the voxel count follows the spacing), with HU values and noise;
written as an nnU-Net v2 raw dataset (``imagesTr/<case>_0000.nii.gz`` int16 HU,
``labelsTr/<case>.nii.gz`` uint8). :func:`noisy_prediction` perturbs a label map the way a
poorly trained network does (ragged boundaries, speckles), the worst case for surface metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io.atomic import write_text
from ..io.nifti import write_nifti

# name, centre (fraction of the body box, x y z), semi-axes in mm, HU
ORGANS: list[tuple[str, tuple[float, float, float], tuple[float, float, float], float]] = [
    ("spleen", (0.78, 0.62, 0.60), (45, 30, 50), 50),
    ("right_kidney", (0.30, 0.70, 0.45), (28, 25, 50), 150),
    ("left_kidney", (0.70, 0.70, 0.45), (28, 25, 50), 150),
    ("gallbladder", (0.35, 0.35, 0.50), (18, 15, 30), 10),
    ("esophagus", (0.52, 0.62, 0.85), (8, 8, 60), 40),
    ("liver", (0.30, 0.45, 0.65), (90, 70, 80), 60),
    ("stomach", (0.62, 0.40, 0.65), (50, 35, 50), 30),
    ("aorta", (0.52, 0.70, 0.50), (12, 12, 150), 200),
    ("inferior_vena_cava", (0.42, 0.68, 0.50), (12, 10, 140), 170),
    ("pancreas", (0.55, 0.55, 0.45), (55, 12, 15), 45),
    ("right_adrenal", (0.36, 0.66, 0.62), (10, 6, 15), 35),
    ("left_adrenal", (0.64, 0.66, 0.62), (10, 6, 15), 35),
    ("duodenum", (0.45, 0.48, 0.38), (30, 12, 25), 35),
]
PHANTOM_LABELS = ["background", *(o[0] for o in ORGANS)]


def phantom_case(
    shape: tuple[int, int, int] = (512, 512, 133),
    spacing: tuple[float, float, float] = (0.7, 0.7, 2.5),
    seed: int = 0,
    organs: int = len(ORGANS),
) -> tuple[np.ndarray, np.ndarray]:
    """CT image (int16 HU) and label map (uint8) of one synthetic abdomen."""
    rng = np.random.default_rng(seed)
    sp = np.asarray(spacing, np.float64)
    label = np.zeros(shape, np.uint8)
    image = np.full(shape, -1000.0, np.float32)
    # body: an elliptic cylinder filling ~85 % x 65 % of the slice, fat rim of ~15 mm
    x = (np.arange(shape[0]) - shape[0] / 2) / (0.43 * shape[0])
    y = (np.arange(shape[1]) - shape[1] / 2) / (0.33 * shape[1])
    r2 = x[:, None] ** 2 + y[None, :] ** 2
    body = r2 <= 1
    image[body] = -90.0  # fat
    inner = r2 <= (1 - 15 / (0.33 * shape[1] * sp[1])) ** 2
    image[inner] = 40.0  # soft tissue
    box_lo = np.array([0.07 * shape[0], 0.17 * shape[1], 0.0])
    box_len = np.array([0.86 * shape[0], 0.66 * shape[1], shape[2]])
    order = sorted(range(organs), key=lambda i: -float(np.prod(ORGANS[i][2])))
    for i in order:  # largest first: a small organ inside a large one stays visible
        k, (_name, centre, semi, hu) = i + 1, ORGANS[i]
        c = box_lo + box_len * (np.asarray(centre) + rng.uniform(-0.03, 0.03, 3))
        r = np.asarray(semi) * rng.uniform(0.9, 1.1, 3) / sp  # semi-axes in voxels
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
        if (hi <= lo).any():
            continue
        g = [(np.arange(a, b) - cc) / rr for a, b, cc, rr in zip(lo, hi, c, r, strict=True)]
        inside = (
            g[0][:, None, None] ** 2 + g[1][None, :, None] ** 2 + g[2][None, None, :] ** 2
        ) < 1
        sub = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        label[sub][inside] = k
        image[sub][inside] = hu
    image += rng.normal(0, 15, shape).astype(np.float32)
    return np.clip(image, -1024, 3071).astype(np.int16), label


def noisy_prediction(
    label: np.ndarray, seed: int = 0, speckle: float = 0.01, ragged: float = 0.3
) -> np.ndarray:
    """``label`` with ragged boundaries (a fraction ``ragged`` of each class's boundary voxels
    set to background) and speckles (a fraction ``speckle`` of all voxels set to a random
    class)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    pred = label.copy()
    cross = ndimage.generate_binary_structure(3, 1)
    mixed = ndimage.grey_erosion(label, footprint=cross) != ndimage.grey_dilation(
        label, footprint=cross
    )
    edge = mixed & (label > 0)  # organ voxels with a face neighbour of another label
    pred[edge & (rng.random(label.shape, dtype=np.float32) < ragged)] = 0
    n = int(label.max()) + 1
    flat = pred.reshape(-1)
    idx = rng.choice(flat.size, int(speckle * flat.size), replace=False)
    flat[idx] = rng.integers(0, n, idx.size, dtype=flat.dtype)
    return pred


def phantom_affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """LPS-stored CT affine (x and y flipped, as DICOM-converted scans usually are)."""
    aff = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    aff[:3, 3] = [180.0, 180.0, -300.0]
    return aff


def write_phantom_dataset(
    folder: str | Path,
    shapes: list[tuple[int, int, int]],
    spacings: list[tuple[float, float, float]],
    seed: int = 0,
) -> Path:
    """Write one case per shape/spacing as an nnU-Net v2 raw dataset (CT, 13 organs)."""
    root = Path(folder)
    for i, (shape, sp) in enumerate(zip(shapes, spacings, strict=True)):
        image, label = phantom_case(tuple(shape), tuple(sp), seed + i)
        aff = phantom_affine(tuple(sp))
        write_nifti(root / "imagesTr" / f"ct_{i:03d}_0000.nii.gz", image, aff)
        write_nifti(root / "labelsTr" / f"ct_{i:03d}.nii.gz", label, aff)
    meta = {
        "name": "phantom",
        "channel_names": {"0": "CT"},
        "labels": {n: v for v, n in enumerate(PHANTOM_LABELS)},
        "numTraining": len(shapes),
        "file_ending": ".nii.gz",
    }
    write_text(root / "dataset.json", json.dumps(meta, indent=2))
    return root
