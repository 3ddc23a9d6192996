"""Parameter metadata, the one table of what each shape and texture parameter accepts.

Preset validation (``fdif_core.presets``), the samplers' default ranges and the studio's
widgets and checks all read these rows: ``low``/``high`` bound the values a preset or the
studio accepts; ``view`` is the window (low, high, step) an editor shows, inside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry

SEED_MAX = 2**32 - 1  # the engine seeds with the low 32 bits: larger seeds would repeat
BOUND = 1e6  # texture parameters without a narrower domain
QT_INT_MAX = 2**31 - 1  # editors' whole-number fields stop here


@dataclass(frozen=True)
class Param:
    """One parameter: its domain, unit and editing window.

    ``whole``: whole numbers only; ``open_low``: ``low`` itself is excluded. A signed
    parameter (negative values mean something) has a domain symmetric about 0.
    """

    name: str
    low: float
    high: float
    unit: str
    doc: str
    view: tuple[float, float, float]
    whole: bool = False
    open_low: bool = False

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed (one phrase naming the domain); None if it is."""
        bad_low = value <= self.low if self.open_low else value < self.low
        if bad_low or value > self.high or (self.whole and value != int(value)):
            kind = "a whole number" if self.whole else "a number"
            span = f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"
            return f"{self.name} must be {kind} in {span}, got {value:g}"
        return None


def _table(what: str, rows: list[Param]) -> Registry[Param]:
    out: Registry[Param] = Registry(what)
    for row in rows:
        out.add(row.name, row)
    return out


_HALF = "half-grid"  # displacement coordinates: x̂ = coordinate / (G/2)
TEXTURE_PARAMS = _table(
    "texture parameter",
    [
        Param("amplitude", -BOUND, BOUND, _HALF, "Δ scale", (-2, 2, 0.005)),  # match fits ~1
        Param("frequency", -BOUND, BOUND, f"1/{_HALF}", "spatial frequency", (0, 200, 1)),
        Param("octaves", 1, 12, "", "noise octaves", (1, 12, 1), whole=True),
        Param("persistence", -BOUND, BOUND, "", "weight ratio per octave", (0, 1, 0.05)),
        Param("seed", 0, SEED_MAX, "", "noise seed", (0, QT_INT_MAX, 1), whole=True),
        Param("axis", 0, 2, "", "axis 0, 1 or 2", (0, 2, 1), whole=True),
        Param("base", 0, BOUND, "", "exponential base", (1.0001, 10, 0.1), open_low=True),
        Param("slope", -BOUND, BOUND, "intensity/voxel", "ramp slope", (0, 200, 1)),
        Param("width", 0, BOUND, "voxels", "band width", (0.05, 20, 0.05), open_low=True),
        Param("step", -BOUND, BOUND, "intensity", "terrace step", (0, 128, 1)),
        Param("peak", 1, 255, "intensity", "intensity at the surface", (1, 255, 1)),
        Param("modulus", 2, 1000, "", "bands per cycle", (2, 1000, 1), whole=True),
        Param("wavelength", 0, BOUND, "voxels", "cosine period", (0.1, 50, 0.1), open_low=True),
        Param("value", 0, 255, "intensity", "flat intensity", (0, 255, 1)),
    ],
)

_G = "fraction of G"  # lengths are fractions of the grid edge G
_SIZE, _SIGNED = (0.0, 100.0), (-100.0, 100.0)  # presets' ranges: fractions of the volume
SHAPE_PARAMS = _table(
    "shape parameter",
    [
        Param("radius", *_SIZE, _G, "section / solid radius", (0.02, 0.5, 0.01)),
        Param("half_height", *_SIZE, _G, "prism half height", (0.02, 0.5, 0.01)),
        Param("height", *_SIZE, _G, "cone height", (0.02, 0.8, 0.01)),
        Param("size", *_SIZE, _G, "octahedron |x|+|y|+|z|", (0.02, 0.5, 0.01)),
        Param("major_radius", *_SIZE, _G, "torus ring radius", (0.05, 0.45, 0.01)),
        Param("minor_ratio", *_SIZE, "", "tube radius / ring radius", (0.05, 0.95, 0.01)),
        Param("star_w", *_SIZE, "", "classic star w: 0 = spikes, 1 = n-gon", (0, 1, 0.01)),
        Param("offset_ratio", *_SIZE, "", "revolution offset / radius", (0, 1.5, 0.01)),
        Param("aspect", *_SIZE, "", "ellipse minor / major radius", (0.1, 1, 0.01)),
        Param("peak_scale", *_SIZE, "", "barrel: section scale at the neck", (1, 5, 0.01)),
        Param("neck_scale", *_SIZE, "", "waist: section scale at the neck", (0.05, 1, 0.01)),
        Param("neck", *_SIGNED, "", "neck height / full height", (-0.7, 0.7, 0.01)),
        Param("end_scale", *_SIZE, "", "cone profile: scale at the far end", (0, 2, 0.01)),
        Param("onion_ratio", *_SIZE, "", "shell thickness / depth", (0.05, 0.9, 0.01)),
    ],
)
