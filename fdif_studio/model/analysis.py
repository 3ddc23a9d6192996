"""What the plots show, computed without Qt: the mapper's curve g(d), the displacement's
profile along a line, intensity histograms and simple texture statistics.

Curves and profiles evaluate the very instances the engine renders with (``Recipe.mappers``,
``Recipe.displacements``), so the plots show what the previews hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .design import DesignRequest


@dataclass(frozen=True)
class Curve:
    """A sampled function: ``x`` and ``y`` (1D arrays), and an x-range to mark."""

    x: np.ndarray
    y: np.ndarray
    marked: tuple[float, float] | None = None


def mapper_curve(req: DesignRequest, phi: torch.Tensor | None = None, n: int = 400) -> Curve:
    """g(d) over signed distance d (voxels), marking the d range the design's voxels hold.

    The plotted range covers the design's deepest voxel (from ``phi``, the rendered φ̃) to
    a few voxels outside (the mapper's halo, if any).
    """
    mapper = req.recipe.mappers[req.obj.mapper]
    marked = None
    lo = -0.25 * req.recipe.G
    if phi is not None:
        inside = phi[phi <= 0.0]
        if inside.numel():
            lo = float(inside.min())
            marked = (lo, 0.0)
    hi = max(2.0, min(mapper.halo() + 1.0, 0.5 * req.recipe.G))
    d = torch.linspace(min(lo, -1.0) * 1.05, hi, n, dtype=torch.float32)
    return Curve(d.numpy(), mapper(d).numpy(), marked)


@dataclass(frozen=True)
class Profile:
    """Δ (voxels) along a line through the object's centre, and its bounds."""

    s: np.ndarray  # position along the line, voxels from the object's centre
    delta: np.ndarray  # displacement, voxels
    amplitude: float  # max |Δ| on the line, voxels
    bounds: tuple[float, float]  # the family's stated range of Δ, voxels (culling uses it)


def displacement_profile(req: DesignRequest, axis: int = 2, n: int = 512) -> Profile | None:
    """The displacement the engine adds to φ along world ``axis`` through the object's
    centre (the exact points and space ``Recipe.field`` uses); None without a displacement."""
    obj, recipe = req.obj, req.recipe
    if obj.displacement < 0:
        return None
    disp = recipe.displacements[obj.displacement]
    half = recipe.G / 2.0
    s = torch.linspace(-half, half, n, dtype=torch.float32)
    pts = torch.zeros((n, 3), dtype=torch.float32)
    pts += torch.tensor(obj.pose.translation, dtype=torch.float32)
    pts[:, axis] += s
    space = obj.pose.to_object(pts) if recipe.spec.displacement_space == "object" else pts
    delta = (disp(space / half) * half).numpy()
    bounds = (-disp.outward() * half, disp.inward() * half)
    return Profile(s.numpy(), delta, float(np.abs(delta).max()), bounds)


@dataclass(frozen=True)
class Histogram:
    counts: np.ndarray
    edges: np.ndarray

    @property
    def density(self) -> np.ndarray:
        total = self.counts.sum()
        return self.counts / total if total else self.counts.astype(float)


def histogram(
    values: np.ndarray, bins: int = 64, value_range: tuple[float, float] | None = None
) -> Histogram:
    """Histogram of ``values`` (any shape) over ``value_range`` (default: their range)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if value_range is None:
        value_range = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    lo, hi = value_range
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return Histogram(counts, edges)


@dataclass(frozen=True)
class TextureStats:
    """Mean and spread (standard deviation) of the intensities in a region, and the
    dominant wavelength of their variation (mm; the peak of the radially averaged power
    spectrum, inf when the region is flat or too small)."""

    n: int
    mean: float
    spread: float
    wavelength: float

    def row(self) -> str:
        lam = "—" if not math.isfinite(self.wavelength) else f"{self.wavelength:.2f} mm"
        return f"n {self.n}, mean {self.mean:.1f}, spread {self.spread:.1f}, wavelength {lam}"


def texture_stats(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
) -> TextureStats:
    """Statistics of ``image`` inside ``mask`` (all voxels if None), spacing in mm/voxel."""
    img = np.asarray(image, dtype=np.float64)
    m = np.ones(img.shape, bool) if mask is None else np.asarray(mask, bool)
    if m.shape != img.shape:
        raise ValueError(f"region mask {m.shape} does not match the image {img.shape}")
    vals = img[m]
    if vals.size == 0:
        raise ValueError("the region is empty: draw or paint it on the image first")
    mean, spread = float(vals.mean()), float(vals.std())
    return TextureStats(int(vals.size), mean, spread, dominant_wavelength(img, m, spacing, mean))


def dominant_wavelength(
    img: np.ndarray, mask: np.ndarray, spacing: tuple[float, ...], mean: float
) -> float:
    """Wavelength (mm) of the strongest non-constant Fourier mode of the masked region.

    The region's bounding box, mean-subtracted and zero outside the mask, is Hann-windowed
    along each axis longer than 3 voxels (thinner axes are averaged away); its power is
    averaged in rings of |k| one frequency step wide.
    """
    nz = np.nonzero(mask)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in nz)
    crop = np.where(mask[box], img[box] - mean, 0.0)
    axes = [a for a in range(crop.ndim) if crop.shape[a] > 3]
    if not axes:
        return math.inf
    thin = tuple(a for a in range(crop.ndim) if a not in axes)
    crop = crop.mean(axis=thin) if thin else crop
    sp = [float(spacing[a]) for a in axes]
    for i, n in enumerate(crop.shape):
        shape = [1] * crop.ndim
        shape[i] = n
        crop = crop * np.hanning(n).reshape(shape)
    power = np.abs(np.fft.fftn(crop)) ** 2
    freqs = np.meshgrid(
        *(np.fft.fftfreq(n, d=d) for n, d in zip(crop.shape, sp, strict=True)), indexing="ij"
    )
    k = np.sqrt(sum(f * f for f in freqs))
    dk = min(1.0 / (n * d) for n, d in zip(crop.shape, sp, strict=True))
    ring = np.rint(k / dk).astype(int)
    sums = np.bincount(ring.ravel(), power.ravel())
    counts = np.bincount(ring.ravel())
    avg = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    avg[0] = 0.0  # the mean (already removed) and the window's own leakage
    if len(avg) < 2 or avg.max() <= 1e-12 * max(power.sum(), 1e-300):
        return math.inf
    return float(1.0 / (int(avg.argmax()) * dk))


@dataclass(frozen=True)
class Region:
    """A measured scan region: its intensities, mask (scan data axes) and statistics."""

    values: np.ndarray
    mask: np.ndarray
    stats: TextureStats


def measure_region(image: np.ndarray, mask: np.ndarray, spacing: tuple[float, ...]) -> Region:
    """Histogram-ready values and texture statistics of ``image`` inside ``mask``."""
    m = np.asarray(mask) > 0
    stats = texture_stats(image, m, spacing)
    return Region(np.asarray(image)[m].astype(np.float64), m, stats)


def object_stats(
    image: np.ndarray, label: np.ndarray, spacing: tuple[float, ...]
) -> TextureStats | None:
    """Texture statistics of a rendered design (or sample) inside its labels (mm spacing);
    None if nothing is labelled."""
    inside = np.asarray(label) > 0
    if not inside.any():
        return None
    return texture_stats(np.asarray(image), inside, spacing)
