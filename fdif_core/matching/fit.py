"""Fit a texture (gradient-noise displacement) and a mapper to a scan region.

1. **Texture** (spectrum): the region's radially averaged power spectrum (``spectrum``) is
   compared with the engine's gradient noise over a grid of lattice cells (mm, steps of
   2^⅙ from the finest voxel to half the region's extent), octaves 1-4 and persistence
   0.3-0.95. Octave o of a cell is the single-octave noise of the cell 2^-o smaller, so each
   cell's spectrum is rendered once and octave sums are weighted sums of spectra (octaves
   use independent seeds, so their powers add). The best triple is rendered exactly.
2. **Amplitude**: the displacement's rms is ``rms_vox`` preset voxels (default 1.6: a
   texture that shows on surfaces without breaking objects); the intensity scale absorbs
   the rest, so amplitude and scale are not fitted twice.
3. **Mapper** (histogram): ``linear`` (slope 10) and ``exponential`` (base searched in
   1.1-3: its skew; smaller bases fade the texture's contrast in design units) at the depth
   where they give mid-range intensity; the scale and offset to scan units are least
   squares over 49 quantiles; the exponential wins only with a W1 5 % below the linear's.

The histogram-only fit (the "before") fits the same mapper families to the histogram on an
untextured ball (``synth.ball_distance``). Everything is deterministic for a seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.textures.displacements import perlin3
from ..engine.textures.mappers import Mapper
from ..engine.threads import one_torch_thread
from .roi import ScanRegion
from .spectrum import Spectrum, histogram_distance, radial_spectrum, spectrum_distance
from .synth import (
    Frame,
    MapperChoice,
    ball_distance,
    mid_depth,
    points,
    texture,
    unit_noise,
)

QUANTILES = np.linspace(0.01, 0.99, 49)
PER_OCTAVE = 6  # lattice cells of the coarse grid: 6 per halving
STEP = 2.0 ** (1.0 / PER_OCTAVE)
OCTAVES = (1, 2, 3, 4)
PERSISTENCE = tuple(np.round(np.arange(0.3, 0.951, 0.05), 2))
SIMPLER = 1.0  # fewer octaves win only on a tie (a margin made the cell coarser)
SAMPLE = 100_000  # voxels the mapper searches look at (strided)
SEARCH_EDGE = 40  # the texture search looks at a central crop of at most this many voxels
RMS_VOX = 1.6
LINEAR_SLOPE = 10.0
BASES = (1.1, 3.0)  # exponential bases: below 1.1 the texture's contrast fades (< 10 units)
PREFER_LINEAR = 0.95  # the exponential must beat the linear mapper's W1 by 5 %


@dataclass(frozen=True)
class Side:
    """One synthetic region's scores against the scan region."""

    w1: float  # histogram W1, scan units
    spectrum: float  # spectrum W1, cycles/mm
    wavelength: float  # dominant wavelength, mm
    mapper: dict[str, Any]


@dataclass(frozen=True)
class MatchResult:
    """A fit: texture and mapper instances for a preset frame, scores before and after, and
    the arrays the comparison view shows (all on the region's bounding box)."""

    region_name: str
    frame: Frame
    seed: int
    texture_params: dict[str, float]
    mapper_family: str
    mapper_params: dict[str, float]
    depth: float
    scale: float
    offset: float
    region_mean: float
    region_std: float
    region_wavelength: float
    before: Side
    after: Side
    seconds: float
    region: ScanRegion = field(repr=False)
    fitted: np.ndarray = field(repr=False)  # the fitted synthetic region, scan units
    histogram_only: np.ndarray = field(repr=False)  # the "before", scan units
    spectra: dict[str, Spectrum] = field(repr=False, default_factory=dict)
    rms_vox: float = RMS_VOX

    @property
    def cell_mm(self) -> float:
        return self.frame.cell_mm(self.texture_params["frequency"])

    def names(self, name: str) -> tuple[str, str]:
        return f"{name}_texture", f"{name}_intensity"

    def fragment(self, name: str | None = None) -> dict[str, Any]:
        """The preset fragment: named displacement and mapper instances (``enabled`` lists)."""
        disp, mapper = self.names(name or f"match_{self.region_name}")
        clean = {k: (int(v) if k in ("octaves", "seed") else float(v))
                 for k, v in self.texture_params.items()}  # fmt: skip
        return {
            "displacements": {"enabled": [{"name": disp, "family": "gradient_noise",
                                           "params": clean}]},
            "mappers": {"enabled": [{"name": mapper, "family": self.mapper_family,
                                     "params": dict(self.mapper_params)}]},
        }  # fmt: skip

    def report(self) -> dict[str, Any]:
        """The fit as JSON-ready data: parameters, distances before and after, timing."""
        side = lambda s: {"histogram_w1": s.w1, "spectrum_w1_cycles_per_mm": s.spectrum,  # noqa: E731
                          "dominant_wavelength_mm": s.wavelength, "mapper": s.mapper}  # fmt: skip
        return {
            "region": {"name": self.region_name, "shape": list(self.region.shape),
                       "voxels": int(self.region.mask.sum()),
                       "spacing_mm": list(self.region.spacing),
                       "start": list(self.region.start), "mean": self.region_mean,
                       "std": self.region_std,
                       "dominant_wavelength_mm": self.region_wavelength},
            "frame": {"G": self.frame.G, "spacing_mm": list(self.frame.spacing),
                      "clip": list(self.frame.clip)},
            "texture": {"family": "gradient_noise", "params": self.fragment()[
                "displacements"]["enabled"][0]["params"], "cell_mm": self.cell_mm,
                        "rms_vox": self.rms_vox},
            "mapper": {"family": self.mapper_family, "params": self.mapper_params,
                       "depth_vox": self.depth},
            "intensity": {"scale": self.scale, "offset": self.offset,
                          "meaning": "scan = scale * design + offset"},
            "before": side(self.before), "after": side(self.after),
            "seed": self.seed, "seconds": self.seconds,
        }  # fmt: skip

    def summary(self) -> list[str]:
        """Lines for the terminal and the studio."""
        b, a, std = self.before, self.after, self.region_std
        tp = self.texture_params
        mp = ", ".join(f"{k} {v:g}" for k, v in self.mapper_params.items())
        return [
            f"region {self.region_name}: {int(self.region.mask.sum())} voxels, mean "
            f"{self.region_mean:.1f}, std {std:.1f} (scan units), dominant wavelength "
            f"{self.region_wavelength:.1f} mm",
            f"histogram W1: {b.w1:.2f} -> {a.w1:.2f} scan units ({b.w1 / std:.2f} -> "
            f"{a.w1 / std:.2f} x std)",
            f"spectrum W1:  {b.spectrum:.4f} -> {a.spectrum:.4f} cycles/mm "
            f"(wavelength {b.wavelength:.1f} -> {a.wavelength:.1f} mm)",
            f"texture: gradient_noise cell {self.cell_mm:.2f} mm (frequency "
            f"{tp['frequency']:.3g}), octaves {int(tp['octaves'])}, persistence "
            f"{tp['persistence']:.2f}, amplitude {tp['amplitude']:.4g} (rms {self.rms_vox:g} vox)",
            f"mapper: {self.mapper_family} ({mp}) at depth {self.depth:.2f} vox",
            f"intensity scale: scan = {self.scale:.4g} * design + {self.offset:.4g}",
        ]


def _affine(syn: np.ndarray, target_q: np.ndarray) -> tuple[float, float]:
    A = np.stack([np.quantile(syn, QUANTILES), np.ones_like(QUANTILES)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, target_q, rcond=None)
    return float(a), float(b)


def _round(x: float) -> float:
    """Six significant digits: the fragment holds exactly what the fit rendered."""
    return float(f"{x:.6g}")


def _w1(values: np.ndarray, target_sorted: np.ndarray) -> float:
    """W1 between two samples of one size: the mean gap of their sorted values (exact)."""
    return float(np.abs(np.sort(values, axis=None) - target_sorted).mean())


def _crop(region: ScanRegion) -> tuple[tuple[slice, ...], tuple[int, ...]]:
    box = []
    for n in region.shape:
        m = min(n, SEARCH_EDGE)
        lo = (n - m) // 2
        box.append(slice(lo, lo + m))
    return tuple(box), tuple(s.stop - s.start for s in box)


def search_texture(region: ScanRegion, frame: Frame, seed: int) -> dict[str, float]:
    """Coarse search of (cell, octaves, persistence) by spectrum W1 (see the module doc)."""
    box, shape = _crop(region)
    mask = region.mask[box]
    if mask.sum() < 0.25 * mask.size:  # a sparse label in the crop: use the whole box
        box, shape, mask = tuple(slice(0, n) for n in region.shape), region.shape, region.mask
    target = radial_spectrum(region.data[box], mask, region.spacing)
    x = points(shape, region.spacing, frame)
    fine = min(region.spacing)
    coarse = 0.5 * max(n * s for n, s in zip(shape, region.spacing, strict=True))
    n_cells = max(math.ceil(math.log(coarse / fine, STEP)), 1) + 1
    cells = [coarse / STEP**j for j in range(n_cells + PER_OCTAVE * (max(OCTAVES) - 1))]
    powers = []
    for j, cell in enumerate(cells):
        f = frame.frequency(cell)
        n = perlin3(x * f, seed=seed + j).double().numpy().reshape(shape)
        powers.append(radial_spectrum(n, mask, region.spacing).power)
    powers_arr = np.stack(powers)
    scored = []  # (cost, octaves, cell, persistence)
    for j in range(n_cells):
        for octaves in OCTAVES:
            for p in PERSISTENCE if octaves > 1 else (0.5,):
                w = np.array([p ** (2 * o) for o in range(octaves)])
                power = w @ powers_arr[j : j + PER_OCTAVE * octaves : PER_OCTAVE]
                cost = spectrum_distance(target, Spectrum(target.k, power))
                scored.append((cost, octaves, cells[j], float(p)))
    least = min(t[0] for t in scored)  # the fewest octaves that come close to the best
    close = [t for t in scored if t[0] <= least * SIMPLER + 1e-12]
    _, octaves, cell, p = min(close, key=lambda t: (t[1], t[0]))
    return {"frequency": frame.frequency(cell), "octaves": octaves, "persistence": p}


def _search_1d(cost, lo: float, hi: float, n: int = 12) -> float:
    """Minimise ``cost`` on [lo, hi]: a grid of ``n`` points (the W1 of clipped mappers has
    several dips), then a bounded Brent search between the best point's neighbours."""
    from scipy.optimize import minimize_scalar

    grid = np.linspace(lo, hi, n)
    costs = [cost(float(u)) for u in grid]
    j = int(np.argmin(costs))
    a, b = grid[max(j - 1, 0)], grid[min(j + 1, n - 1)]
    res = minimize_scalar(cost, bounds=(float(a), float(b)), method="bounded",
                          options={"xatol": 1e-3 * (hi - lo)})  # fmt: skip
    return float(res.x) if res.fun <= costs[j] else float(grid[j])


def _every(values: np.ndarray) -> np.ndarray:
    """At most ``SAMPLE`` values, evenly strided (searches on big regions stay quick)."""
    flat = np.ravel(values)
    return flat[:: max(1, math.ceil(flat.size / SAMPLE))]


def _mapper_candidates(delta: np.ndarray, values: np.ndarray, clip) -> list[MapperChoice]:
    """Linear and exponential mappers of ``d0 + delta`` fitted to ``values`` (best first)."""
    delta, values = _every(delta), _every(values)
    n = min(delta.size, values.size)
    delta, values = delta[:n], values[:n]
    target_q = np.quantile(values, QUANTILES)
    target_sorted = np.sort(values, axis=None)

    def choice(family: str, params: dict[str, float]) -> tuple[MapperChoice, float]:
        depth = mid_depth(family, params, clip)
        probe = MapperChoice(Mapper("m", family, params), depth, 1.0, 0.0)
        design = probe.design(delta, clip)
        a, b = _affine(design, target_q)
        if not a > 0:
            return probe, math.inf
        ch = MapperChoice(probe.mapper, depth, a, b)
        return ch, _w1(a * design + b, target_sorted)

    lin = choice("linear", {"slope": LINEAR_SLOPE, "peak": 128.0})
    lo, hi = math.log(BASES[0] - 1.0), math.log(BASES[1] - 1.0)
    u = _search_1d(lambda u: choice("exponential", {"base": 1.0 + math.exp(u),
                                                    "peak": 128.0})[1], lo, hi)  # fmt: skip
    base = float(np.round(1.0 + math.exp(u), 4))
    exp = choice("exponential", {"base": base, "peak": 128.0})
    ranked = [lin, exp] if lin[1] <= exp[1] / PREFER_LINEAR else [exp, lin]
    return [c for c, cost in ranked if math.isfinite(cost)]


def _histogram_only(region: ScanRegion, frame: Frame) -> tuple[MapperChoice, np.ndarray]:
    """The "before": mapper fitted to the histogram on an untextured ball (no Δ); slope
    and base - 1 are searched on a log scale."""
    phi = ball_distance(region.shape, region.spacing, frame)
    phi_in, values = _every(phi[region.mask]), _every(region.values)
    target_q = np.quantile(values, QUANTILES)
    target_sorted = np.sort(values, axis=None)
    best: tuple[float, MapperChoice | None] = (math.inf, None)
    for family, key, (lo, hi), shift in (("linear", "slope", (0.2, 40.0), 0.0),
                                         ("exponential", "base", BASES, 1.0)):  # fmt: skip

        def cost(u: float, family=family, key=key, shift=shift):
            value = shift + math.exp(u)
            m = MapperChoice(Mapper("m", family, {key: value, "peak": 128.0}), 0.0, 1, 0)
            design = m.design(phi_in, frame.clip)
            a, b = _affine(design, target_q)
            if not a > 0:
                return math.inf, m
            return _w1(a * design + b, target_sorted), MapperChoice(m.mapper, 0.0, a, b)

        span = math.log(lo - shift), math.log(hi - shift)
        c = cost(_search_1d(lambda u, cost=cost: cost(u)[0], *span))
        if c[0] < best[0]:
            best = c
    choice = best[1]
    assert choice is not None
    return choice, choice.scan_units(phi, frame.clip)


def _side(region: ScanRegion, image: np.ndarray, spec: Spectrum, target: Spectrum,
          choice: MapperChoice) -> Side:  # fmt: skip
    return Side(histogram_distance(image[region.mask], region.values),
                spectrum_distance(target, spec), spec.wavelength,
                {"family": choice.mapper.family, "params": dict(choice.mapper.params),
                 "scale": choice.scale, "offset": choice.offset})  # fmt: skip


def fit_region(
    region: ScanRegion, frame: Frame | None = None, seed: int = 0, rms_vox: float = RMS_VOX
) -> MatchResult:
    """Fit a gradient-noise texture and a mapper to ``region`` for presets of ``frame``."""
    frame = frame or Frame()
    t0 = time.perf_counter()
    with one_torch_thread():  # small tensors
        target = radial_spectrum(region.data, region.mask, region.spacing)
        before_choice, before_img = _histogram_only(region, frame)
        found = search_texture(region, frame, seed)
        found["frequency"] = _round(found["frequency"])
        x = points(region.shape, region.spacing, frame)
        noise = unit_noise(x, found["frequency"], int(found["octaves"]),
                           found["persistence"], seed).reshape(region.shape)  # fmt: skip
        sigma = float(noise[region.mask].std()) or 1.0
        amplitude = _round(rms_vox / (sigma * frame.half))
        delta = noise * amplitude * frame.half
        choices = _mapper_candidates(delta[region.mask], region.values, frame.clip)
        if not choices:
            raise ValueError("match: no mapper maps the texture onto the region's histogram")
        choice = choices[0]
        fitted = choice.scan_units(delta, frame.clip)
    spectra = {"region": target,
               "before": radial_spectrum(before_img, region.mask, region.spacing),
               "after": radial_spectrum(fitted, region.mask, region.spacing)}  # fmt: skip
    params = {"amplitude": float(amplitude), **found, "seed": int(seed)}
    return MatchResult(
        region.name, frame, int(seed), params, choice.mapper.family,
        {k: float(v) for k, v in choice.mapper.params.items()}, float(choice.depth),
        choice.scale, choice.offset, float(region.values.mean()), float(region.values.std()),
        target.wavelength,
        _side(region, before_img, spectra["before"], target, before_choice),
        _side(region, fitted, spectra["after"], target, choice),
        time.perf_counter() - t0, region, fitted, before_img, spectra, float(rms_vox),
    )  # fmt: skip


def check_fragment(fragment: dict[str, Any]) -> None:
    """Raise ValueError when the fragment's instances are not valid preset entries."""
    from ..engine.textures import displacements as D
    from ..engine.textures import mappers as M

    for item in fragment["displacements"]["enabled"]:
        D.check_params(item["family"], item["params"])
        texture(item["name"], item["params"])
    for item in fragment["mappers"]["enabled"]:
        M.check_params(item["family"], item["params"])
