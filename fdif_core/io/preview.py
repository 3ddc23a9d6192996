"""Preview montages: the three orthogonal mid-slices of image and label overlay as one PNG."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path


def label_colors(n: int) -> np.ndarray:
    """(n, 3) uint8 distinct colours; label 0 (background) is black."""
    cols = [(0, 0, 0)]
    for i in range(1, n):
        h = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, 0.75, 1.0)
        cols.append((int(r * 255), int(g * 255), int(b * 255)))
    return np.array(cols, dtype=np.uint8)


def montage(
    image: torch.Tensor | np.ndarray,
    label: torch.Tensor | np.ndarray,
    alpha: float = 0.45,
    upscale: int = 2,
) -> np.ndarray:
    """RGB uint8 montage: top row the intensity slices, bottom row with the label overlay."""
    img = np.asarray(image.cpu() if isinstance(image, torch.Tensor) else image).astype(np.float32)
    lab = np.asarray(label.cpu() if isinstance(label, torch.Tensor) else label).astype(np.int64)
    hi = max(float(img.max()), 1e-6)
    lo = float(img.min())
    colors = label_colors(int(lab.max()) + 1)
    rows: list[list[np.ndarray]] = [[], []]
    size = max(img.shape)
    for axis in range(3):
        idx = img.shape[axis] // 2
        gray = np.take(img, idx, axis=axis)
        lbl = np.take(lab, idx, axis=axis)
        g = ((gray - lo) / max(hi - lo, 1e-6) * 255.0).clip(0, 255).astype(np.uint8)
        rgb = np.repeat(g[..., None], 3, axis=-1)
        over = rgb.copy()
        m = lbl > 0
        over[m] = ((1 - alpha) * rgb[m] + alpha * colors[lbl[m]]).astype(np.uint8)
        for r, tile in zip(rows, (rgb, over), strict=True):
            pad = np.zeros((size, size, 3), np.uint8)
            pad[: tile.shape[0], : tile.shape[1]] = tile
            r.append(pad)
    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    return grid.repeat(upscale, axis=0).repeat(upscale, axis=1)


def save_png(path: str | Path, rgb: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")
