"""Preview rendering (Qt-free): the engine's field on a grid, slices and an isosurface.

Every preview is computed by ``fdif_core``: ``Recipe.field`` gives φ̃ inside the object's
box (the same box and chunks as ``Recipe.render``), the recipe's mapper gives the
intensity, and ``skimage.measure.marching_cubes`` extracts the zero level set. Layers
use millimetres (reference voxels times the preset's spacing), so previews at any
resolution, scenes and real scans overlay exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from fdif_core.engine.compose import CHUNK, Recipe, Sample
from fdif_core.engine.grid import voxel_index_points
from fdif_core.io.preview import label_colors

from .design import DesignRequest

Shape3 = tuple[int, int, int]


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def frame(
    ref: Shape3, shape: Shape3, spacing: tuple[float, ...] = (1.0, 1.0, 1.0)
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Layer ``scale`` and ``translate`` mapping voxel indices of ``shape`` to millimetres
    (world 0..ref·spacing, voxel centres at (i + 0.5) · spacing · ref / n): every preview
    of a preset, at any resolution, fills the same physical box."""
    scale = tuple(sp * r / n for sp, r, n in zip(spacing, ref, shape, strict=True))
    return scale, tuple(0.5 * s for s in scale)


@dataclass
class Volumes:
    """One object's preview: uint8 image and label (D, H, W), the field φ̃ and its frame."""

    image: np.ndarray
    label: np.ndarray
    phi: torch.Tensor
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    version: int = 0
    seconds: float = 0.0
    request: DesignRequest | None = None  # what was rendered


@dataclass
class Surface:
    """Triangle mesh of the zero level set in millimetres (the world frame of the layers)."""

    vertices: np.ndarray
    faces: np.ndarray
    version: int = 0
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return len(self.faces) == 0


def render_volumes(req: DesignRequest) -> Volumes:
    """Field, intensity and label of the request's object: equal to ``Recipe.render``'s.

    φ̃ is evaluated on the voxels ``Recipe.voxels`` keeps (the object's culled blocks);
    everywhere else it is left at a far positive value (:func:`surface_field` fills in the
    voxels next to the surface before an isosurface is extracted).
    """
    t0 = time.perf_counter()
    recipe, obj, shape = req.recipe, req.obj, req.shape
    dev = torch.device(req.device)
    phi = torch.full(shape, _far(recipe), dtype=torch.float32, device=dev)
    image = torch.zeros(shape, dtype=torch.float32, device=dev)
    found = recipe.voxels(obj, shape, dev)
    if found is not None:
        idx, pts = found
        mapper = recipe.mappers[obj.mapper]
        flat_phi, flat_image = phi.view(-1), image.view(-1)
        for s in range(0, len(idx), CHUNK):
            f = recipe.field(obj, pts[s : s + CHUNK])
            flat_phi[idx[s : s + CHUNK]] = f
            flat_image[idx[s : s + CHUNK]] = mapper(
                f, recipe.mapper_position(obj, pts[s : s + CHUNK])
            )
    lo, hi = recipe.spec.clip
    image_u8 = image.clamp_(lo, hi).to(torch.uint8)
    value = recipe.label_of(obj)["shape"]
    label = (phi <= 0.0).to(torch.uint8) * value
    scale, translate = frame(recipe.shape, shape, req.spacing)
    return Volumes(
        image_u8.cpu().numpy(),
        label.cpu().numpy(),
        phi,
        scale,
        translate,
        req.version,
        time.perf_counter() - t0,
        req,
    )


def _far(recipe: Recipe) -> float:
    """The value φ̃ holds where culling skipped the voxel (surely outside)."""
    return float(max(recipe.shape))


def surface_field(vol: Volumes) -> torch.Tensor:
    """``vol.phi`` with φ̃ also evaluated at the skipped voxels that touch an inside voxel.

    Culling skips voxels that are surely outside (φ̃ > 0, no intensity), so their far value
    has the right sign, but marching cubes places a vertex between an inside voxel and its
    axis neighbour by their two values (a far one snaps it inwards) and resolves ambiguous
    cubes by all eight corners: with the 26 neighbours of every inside voxel filled in,
    each cube the surface crosses is the full grid's, and so is the mesh.
    """
    req, phi = vol.request, vol.phi
    inside = phi <= 0.0
    if req is None or not bool(inside.any()):
        return phi
    recipe = req.recipe
    sl = []  # the inside voxels' box, grown by one
    for a in range(3):
        hit = torch.nonzero(inside.movedim(a, 0).flatten(1).any(1))
        sl.append(slice(max(int(hit[0]) - 1, 0), int(hit[-1]) + 2))
    sl = tuple(sl)
    near = inside[sl].clone()
    for a in range(3):  # dilation by the 3 x 3 x 3 cube, one axis at a time
        was, n = near.clone(), near.shape[a]
        near.narrow(a, 1, n - 1).logical_or_(was.narrow(a, 0, n - 1))
        near.narrow(a, 0, n - 1).logical_or_(was.narrow(a, 1, n - 1))
    vox = (near & (phi[sl] == _far(recipe))).nonzero()
    if len(vox) == 0:
        return phi
    vox += torch.tensor([s.start for s in sl], device=vox.device)
    shape = tuple(phi.shape)
    flat, pts = voxel_index_points(vox, shape, recipe.shape)  # type: ignore[arg-type]
    world = recipe.world(pts, shape)
    out = phi.clone()
    flat_out = out.view(-1)
    for s in range(0, len(flat), CHUNK):
        flat_out[flat[s : s + CHUNK]] = recipe.field(req.obj, world[s : s + CHUNK])
    return out


def isosurface(
    phi: torch.Tensor,
    ref: Shape3,
    version: int = 0,
    spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
) -> Surface:
    """Zero level set of ``phi`` by marching cubes, closed at the volume's border (mm)."""
    t0 = time.perf_counter()
    arr = phi.detach().to("cpu", torch.float32).numpy()
    shape = arr.shape
    scale, _ = frame(ref, shape, spacing)  # type: ignore[arg-type]
    if arr.size == 0 or arr.min() > 0.0:
        return Surface(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64), version)
    from skimage.measure import marching_cubes

    far = float(max(arr.max(), 1.0))
    padded = np.pad(arr, 1, mode="constant", constant_values=far)
    verts, faces, _, _ = marching_cubes(padded, level=0.0, spacing=scale)
    verts = (verts - 0.5 * np.asarray(scale)).astype(np.float32)
    return Surface(verts, faces.astype(np.int64), version, time.perf_counter() - t0)


def render_scene(recipe: Recipe, index: int, shape: Shape3 | None, device: str) -> Sample:
    """Sample ``index`` of the recipe (the dataset's own sample), optionally resampled."""
    return recipe.sample(index, shape=shape, device=device)


def label_color_dict(n: int) -> dict[int | None, np.ndarray]:
    """Colours of labels 0..n-1 (0 transparent), as the PNG montages colour them."""
    rgb = label_colors(max(n, 1)).astype(np.float32) / 255.0
    out: dict[int | None, np.ndarray] = {None: np.zeros(4, np.float32)}
    for i in range(n):
        out[i] = np.array([*rgb[i], 0.0 if i == 0 else 1.0], np.float32)
    return out


def label_features(names: list[str]) -> dict[str, np.ndarray]:
    """Labels-layer features: shown on hover as ``class: <name>``."""
    return {"index": np.arange(len(names)), "class": np.asarray(names, dtype=object)}
