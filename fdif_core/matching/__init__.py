"""Fit a texture (a displacement and a mapper of the engine) to a region of a real scan.

``load_region`` (roi) reads the region, ``fit_region`` (fit) fits it, ``MatchResult`` holds
the fit, its preset fragment and its report; ``merge_fragment`` adds a fragment to a preset.
``fdif-core match`` and the studio's comparison view both call ``fit_region``.
"""

from __future__ import annotations

from .fit import MatchResult, fit_region
from .fragment import fragment_yaml, merge_fragment, save_preview
from .roi import ScanRegion, load_region, parse_roi, region_from_array
from .spectrum import Spectrum, histogram_distance, radial_spectrum, spectrum_distance
from .synth import Frame, frame_of

__all__ = [
    "Frame",
    "MatchResult",
    "ScanRegion",
    "Spectrum",
    "fit_region",
    "fragment_yaml",
    "frame_of",
    "histogram_distance",
    "load_region",
    "merge_fragment",
    "parse_roi",
    "radial_spectrum",
    "region_from_array",
    "save_preview",
    "spectrum_distance",
]
