"""Thumbnails of the primitive classes, rendered by the engine and cached on disk.

Each class is rendered at its default knobs (the middle of its sampling ranges), turned a
little so its 3D form reads, then shaded by depth (nearer voxels brighter) from the
label. PNGs are cached in the user cache directory under a key of the class, its engine
parameters and the pose, so a changed class gets a new thumbnail by itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .design import DesignState
from .render import render_volumes

RESOLUTION = 40
SIZE = 80  # thumbnail edge, pixels
ANGLES = (25.0, -35.0, 20.0)
VERSION = 2  # bump when the drawing changes


def cache_dir() -> Path:
    """``$FDIF_STUDIO_CACHE`` or the platform's user cache dir for fdif-studio."""
    env = os.environ.get("FDIF_STUDIO_CACHE")
    if env:
        return Path(env) / "thumbnails"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("fdif-studio")) / "thumbnails"


def _design(name: str) -> DesignState:
    s = DesignState(primitive=name)
    s.set_pose(angles_deg=ANGLES)
    return s


def thumbnail_key(name: str) -> str:
    req = _design(name).request(RESOLUTION)
    blob = json.dumps([VERSION, name, req.obj.params, req.obj.pose.matrix, req.shape],
                      sort_keys=True, default=str)  # fmt: skip
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def draw(name: str) -> np.ndarray:
    """RGB uint8 (SIZE, SIZE, 3) lit, depth-shaded view of class ``name`` along data axis 0."""
    label = render_volumes(_design(name).request(RESOLUTION)).label > 0
    n = label.shape[0]
    hit = label.any(axis=0)
    depth = np.where(hit, label.argmax(axis=0), n).astype(np.float64)
    gy, gx = np.gradient(np.where(hit, depth, depth[hit].max() if hit.any() else n))
    normal = np.stack([-gx, -gy, np.ones_like(gx)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    light = np.array([-0.45, -0.55, 0.70]) / np.linalg.norm([-0.45, -0.55, 0.70])
    lambert = np.clip(normal @ light, 0.0, 1.0)
    near = 1.0 - depth / n
    shade = np.where(hit, 0.15 + 0.6 * lambert + 0.25 * near, 0.0)
    rgb = np.stack([shade * 0.98, shade * 0.80, shade * 0.50], axis=-1)  # warm grey
    from PIL import Image

    img = Image.fromarray((rgb * 255).astype(np.uint8)).resize((SIZE, SIZE), Image.BILINEAR)
    return np.asarray(img)


def thumbnail(name: str, folder: Path | None = None) -> Path:
    """Path of the cached PNG of class ``name`` (drawn and written on first use)."""
    from PIL import Image

    from fdif_core.io.atomic import atomic_path

    folder = folder or cache_dir()
    path = folder / f"{thumbnail_key(name)}.png"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Image.fromarray(draw(name)).save(tmp, format="PNG")
    return path
