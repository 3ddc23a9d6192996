"""Fit the design's mapper to a region of a real scan ("match").

The design's object voxels hold φ̃ (rendered once); the mapper turns them into intensities.
The fit looks for mapper parameters and an intensity scale ``a`` and offset ``b`` such that
``a · g(φ̃) + b`` has the region's intensity distribution: the loss is the mean squared
difference of 49 quantiles (a 1D Wasserstein-2 distance), relative to the region's
variance. For given parameters ``a`` and ``b`` are least squares in closed form; the
mapper's continuous parameters (all but ``peak``, ``value`` and integers, which the scale
covers or which are not smooth) are searched by Nelder-Mead within the studio's bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fdif_core.engine.textures import mappers as M

from .textures import INTEGER_PARAMS, PARAM_BOUNDS

QUANTILES = np.linspace(0.01, 0.99, 49)
FIXED = {"peak", "value"}  # covered by the intensity scale


@dataclass(frozen=True)
class Match:
    """Result of a fit: parameters before and after, the scale and offset, the losses."""

    family: str
    before: dict[str, float]
    after: dict[str, float]
    scale: float
    offset: float
    loss_before: float
    loss_after: float
    fitted: tuple[str, ...]

    def summary(self) -> str:
        changed = ", ".join(f"{k} {self.before[k]:g} → {self.after[k]:g}" for k in self.fitted)
        return (
            f"{self.family}: {changed or 'scale only'}; intensity ≈ {self.scale:.3g} · g "
            f"+ {self.offset:.3g}; loss {self.loss_before:.3f} → {self.loss_after:.3f}"
        )


def _mapped(family: str, params: dict[str, float], phi: torch.Tensor, clip) -> np.ndarray:
    inst = M.Mapper("match", family, params)
    return inst(phi).clamp(*clip).numpy().astype(np.float64)


def _scale_fit(syn_q: np.ndarray, target_q: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ``a, b`` with a·syn + b ≈ target, and the relative squared error."""
    A = np.stack([syn_q, np.ones_like(syn_q)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, target_q, rcond=None)
    var = max(float(target_q.var()), 1e-12)
    return float(a), float(b), float(np.mean((a * syn_q + b - target_q) ** 2) / var)


def loss_of(
    family: str, params: dict[str, float], phi: torch.Tensor, target_q: np.ndarray, clip
) -> tuple[float, float, float]:
    """(scale, offset, loss) of ``family`` with ``params`` on the object's φ̃ values."""
    syn = _mapped(family, params, phi, clip)
    return _scale_fit(np.quantile(syn, QUANTILES), target_q)


def fit_mapper(
    family: str,
    params: dict[str, float],
    phi_inside: torch.Tensor,
    region: np.ndarray,
    clip: tuple[float, float] = (0.0, 128.0),
    max_evals: int = 200,
) -> Match:
    """Fit ``family``'s parameters (start: ``params``) and an intensity scale to ``region``.

    Args:
        phi_inside: φ̃ (voxels) of the design's object voxels (φ̃ <= 0), any shape.
        region: the scan's intensities inside the drawn region.
        clip: the preset's intensity clip (the engine clamps g to it).
    """
    from scipy.optimize import minimize

    phi = phi_inside.detach().reshape(-1).float().cpu()
    region = np.asarray(region, dtype=np.float64).ravel()
    if phi.numel() < 8 or region.size < 8:
        raise ValueError("match: need at least 8 object voxels and 8 region voxels")
    target_q = np.quantile(region, QUANTILES)
    start = dict(params)
    names = tuple(
        k for k in start if k not in FIXED and k not in INTEGER_PARAMS and k in PARAM_BOUNDS
    )
    lo = np.array([PARAM_BOUNDS[k][0] for k in names])
    hi = np.array([PARAM_BOUNDS[k][1] for k in names])

    def params_at(u: np.ndarray) -> dict[str, float]:  # u in [0, 1] per parameter, clipped
        x = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
        return {**start, **{k: float(v) for k, v in zip(names, x, strict=True)}}

    def loss(u: np.ndarray) -> float:
        return loss_of(family, params_at(u), phi, target_q, clip)[2]

    a0, b0, l0 = loss_of(family, start, phi, target_q, clip)
    best, a, b, l1 = start, a0, b0, l0
    if names:
        u0 = (np.array([start[k] for k in names]) - lo) / (hi - lo)
        res = minimize(loss, u0, method="Nelder-Mead",
                       options={"maxfev": max_evals, "xatol": 1e-4, "fatol": 1e-6})  # fmt: skip
        cand = params_at(res.x)
        ca, cb, cl = loss_of(family, cand, phi, target_q, clip)
        if cl < l0:
            best, a, b, l1 = cand, ca, cb, cl
    return Match(family, start, best, a, b, l0, l1, names)


def before_after(
    match: Match, phi_inside: torch.Tensor, region: np.ndarray, clip=(0.0, 128.0), bins: int = 48
) -> dict[str, np.ndarray]:
    """Densities on one bin grid (scan units): the region, the design before and after the
    fit (each through its own best scale and offset); key ``edges`` holds the bins."""
    from .analysis import histogram

    phi = phi_inside.detach().reshape(-1).float().cpu()
    region = np.asarray(region, dtype=np.float64).ravel()
    target_q = np.quantile(region, QUANTILES)
    series = {"region": region}
    for key, params in (("before", match.before), ("after", match.after)):
        syn = _mapped(match.family, params, phi, clip)
        a, b, _ = _scale_fit(np.quantile(syn, QUANTILES), target_q)
        series[key] = a * syn + b
    lo = min(float(np.percentile(v, 0.5)) for v in series.values())
    hi = max(float(np.percentile(v, 99.5)) for v in series.values())
    out = {k: histogram(v, bins, (lo, hi)).density for k, v in series.items()}
    out["edges"] = histogram(region, bins, (lo, hi)).edges
    return out
