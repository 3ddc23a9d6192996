"""Texture and histogram distances between a scan region and a synthetic one.

Texture: the radially averaged power spectrum (RAPS) of the region's intensity variation in
physical frequency |k| (cycles/mm, from the voxel spacing). The region's bounding box,
mean-subtracted and zero outside the region, is Hann-windowed along each axis longer than
3 voxels (thinner axes are averaged away), Fourier-transformed (numpy FFT) and its power
averaged in rings of |k|, one coarsest frequency step wide, from that step up to the
highest Nyquist frequency (thick slices: the outer rings hold the in-plane frequencies, as
they do for both regions compared). The spectrum *distance* is the Wasserstein-1 distance
between two such spectra normalised to unit sum, as distributions of power over |k|:
cycles/mm, how far power must move in frequency (variance is the histogram's business).

Histogram: the Wasserstein-1 distance between the two intensity samples, in scan units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

THIN = 3  # axes of at most this many voxels are averaged, not transformed


@dataclass(frozen=True)
class Spectrum:
    """Ring centres ``k`` (cycles/mm) and the mean power in each ring (scan units² · mm³)."""

    k: np.ndarray
    power: np.ndarray

    @property
    def density(self) -> np.ndarray:
        """The power normalised to unit sum (uniform for a flat region)."""
        total = float(self.power.sum())
        if total <= 0.0 or not math.isfinite(total):
            return np.full(self.power.shape, 1.0 / max(len(self.power), 1))
        return self.power / total

    @property
    def wavelength(self) -> float:
        """Dominant wavelength (mm): 1 / the ring with the most power; inf when flat."""
        if not len(self.k) or float(self.power.max()) <= 0.0:
            return math.inf
        return 1.0 / float(self.k[int(np.argmax(self.power))])


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    nz = np.nonzero(mask)
    return tuple(slice(int(i.min()), int(i.max()) + 1) for i in nz)


def radial_spectrum(image: np.ndarray, mask: np.ndarray, spacing: tuple[float, ...]) -> Spectrum:
    """RAPS of ``image`` inside ``mask`` (same shape), ``spacing`` in mm per array axis."""
    img = np.asarray(image, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return Spectrum(np.zeros(0), np.zeros(0))
    box = _bounding_box(m)
    mean = float(img[m].mean())
    crop = np.where(m[box], img[box] - mean, 0.0)
    axes = [a for a in range(crop.ndim) if crop.shape[a] > THIN]
    if not axes:
        return Spectrum(np.zeros(0), np.zeros(0))
    thin = tuple(a for a in range(crop.ndim) if a not in axes)
    if thin:
        crop = crop.mean(axis=thin)
    sp = [float(spacing[a]) for a in axes]
    for a, n in enumerate(crop.shape):
        shape = [1] * crop.ndim
        shape[a] = n
        crop = crop * np.hanning(n + 2)[1:-1].reshape(shape)
    power = np.abs(np.fft.fftn(crop)) ** 2 * (float(np.prod(sp)) / crop.size)
    freqs = np.meshgrid(
        *[np.fft.fftfreq(n, d=s) for n, s in zip(crop.shape, sp, strict=True)], indexing="ij"
    )
    k = np.sqrt(sum(f * f for f in freqs))
    step = max(1.0 / (n * s) for n, s in zip(crop.shape, sp, strict=True))
    top = max(0.5 / s for s in sp)  # the finest axis' Nyquist frequency
    edges = np.arange(0.5 * step, top + 0.5 * step + 1e-12, step)
    if len(edges) < 2:
        return Spectrum(np.zeros(0), np.zeros(0))
    ring = np.digitize(k.ravel(), edges) - 1
    keep = (ring >= 0) & (ring < len(edges) - 1)
    sums = np.bincount(ring[keep], weights=power.ravel()[keep], minlength=len(edges) - 1)
    counts = np.bincount(ring[keep], minlength=len(edges) - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    used = counts > 0
    return Spectrum(centres[used], sums[used] / counts[used])


def spectrum_distance(a: Spectrum, b: Spectrum) -> float:
    """W1 (cycles/mm) between two spectra's power distributions over |k| (same rings)."""
    from scipy.stats import wasserstein_distance

    if len(a.k) == 0 or len(b.k) == 0:
        return 0.0
    return float(wasserstein_distance(a.k, b.k, a.density, b.density))


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between two intensity samples (their units)."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(np.ravel(a), np.ravel(b)))
