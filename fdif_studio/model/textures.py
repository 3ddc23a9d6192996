"""Displacement and mapper parameters as the studio edits them: bounds and checks."""

from __future__ import annotations

import math

from fdif_core.engine.registry import suggest
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M

NONE = "none"
"""Displacement family name meaning "no displacement"."""

PARAM_BOUNDS: dict[str, tuple[float, float, float]] = {
    # name: (low, high, step) for the widgets; the model checks the same bounds
    "amplitude": (-0.5, 0.5, 0.005),
    "frequency": (0.0, 200.0, 1.0),
    "octaves": (1, 8, 1),
    "persistence": (0.0, 1.0, 0.05),
    "seed": (0, 9999, 1),
    "axis": (0, 2, 1),
    "base": (1.0001, 10.0, 0.1),
    "slope": (0.0, 200.0, 1.0),
    "width": (0.05, 20.0, 0.05),
    "step": (0.0, 128.0, 1.0),
    "peak": (0.0, 255.0, 1.0),
    "modulus": (2, 64, 1),
    "wavelength": (0.1, 50.0, 0.1),
    "value": (0.0, 255.0, 1.0),
}
INTEGER_PARAMS = {"octaves", "seed", "axis", "modulus"}


def check_texture_params(kind: str, family: str, params: dict[str, float]) -> dict[str, float]:
    """Validate ``params`` of a displacement or mapper family; return them as floats.

    Raises:
        ValueError: a name the family does not take, or a value that is not finite or lies
            outside ``PARAM_BOUNDS``; the message names the parameter and what is allowed.
    """
    families = D.FAMILIES if kind == "displacement" else M.FAMILIES
    if family not in families:
        raise ValueError(suggest(family, families.names, f"{kind} family"))
    (D.check_params if kind == "displacement" else M.check_params)(family, params)
    out = {}
    for name, value in params.items():
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{kind} {family}: {name} must be a number, got {value!r}") from None
        lo, hi, _ = PARAM_BOUNDS.get(name, (-math.inf, math.inf, 0.0))
        if not math.isfinite(x) or not lo <= x <= hi:
            raise ValueError(f"{kind} {family}: {name} = {value!r} is outside [{lo}, {hi}]")
        out[name] = float(round(x)) if name in INTEGER_PARAMS else x
    return out


def check_instance_name(name: str) -> str:
    """A usable instance name: non-empty, one line, no surrounding spaces."""
    name = str(name).strip()
    if not name or any(c in name for c in "\n\r\t:#,[]{}"):
        raise ValueError(f"instance name {name!r}: use letters, digits, '_', '.', '-'")
    return name
