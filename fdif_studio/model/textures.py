"""Displacement and mapper parameters as the studio edits them: bounds and checks."""

from __future__ import annotations

import math

from fdif_core.engine.params import TEXTURE_PARAMS
from fdif_core.engine.registry import suggest
from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M

NONE = "none"
"""Displacement family name meaning "no displacement"."""
FORMULA = "expression"
"""The family whose formula the user types (``fdif_core.engine.textures.expression``)."""
FORMULA_DEFAULTS = {
    "displacement": {"expr": "0.02 * sin(40 * x) * cos(40 * y) + 0.01 * abs(sin(25 * z))"},
    "mapper": {"expr": "clip(128 + 12 * d, 0, 128) * (0.75 + 0.25 * cos(2 * pi * d / 3))"},
}

STUDIO_DEFAULTS: dict[str, dict[str, dict[str, float]]] = {
    # kind: family: parameters the Designer starts a family with (over the engine's
    # defaults), so its texture shows at first sight on the default shape: gradient noise
    # moving the surface by a few voxels, a ridge that keeps a star prism in one piece
    "displacement": {
        "gradient_noise": {"amplitude": 0.2, "frequency": 4.0},
        "ridge": {"amplitude": 0.005},
    },
    "mapper": {},
}
FIRST_SIGHT = {
    # the design a new session opens with: a sphere large enough to read, its surface
    # moved by gradient noise, intensity bands from the sinusoidal mapper
    "primitive": "sphere",
    "knobs": {"radius": 0.35},
    "displacement": "gradient_noise",
    "displacement_params": {"amplitude": 0.2, "frequency": 4.0},
    "mapper": "sinusoidal",
    "mapper_params": {},  # the family's defaults
}

PARAM_BOUNDS: dict[str, tuple[float, float, float]] = {
    # name: (low, high, step) the widgets show (and matching searches), inside the domain
    # the model checks: both from the engine's table, as presets read it
    name: p.view
    for name, p in TEXTURE_PARAMS.items()
}
INTEGER_PARAMS = {name for name, p in TEXTURE_PARAMS.items() if p.whole}


def check_texture_params(kind: str, family: str, params: dict[str, float]) -> dict[str, float]:
    """Validate ``params`` of a displacement or mapper family; return them as floats.

    Raises:
        ValueError: a name the family does not take, or a value that is not finite or lies
            outside the parameter's domain (``TEXTURE_PARAMS``, as presets check it); the
            message names the parameter and what is allowed.
    """
    families = D.FAMILIES if kind == "displacement" else M.FAMILIES
    if family not in families:
        raise ValueError(suggest(family, families.names, f"{kind} family"))
    if family == FORMULA:  # the engine checks the formula (one line naming the token)
        params = {k: v if k == "expr" else _number(kind, family, k, v) for k, v in params.items()}
        (D.check_params if kind == "displacement" else M.check_params)(family, params)
        return params
    (D.check_params if kind == "displacement" else M.check_params)(family, params)
    out = {}
    for name, value in params.items():
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{kind} {family}: {name} must be a number, got {value!r}") from None
        if not math.isfinite(x):
            raise ValueError(f"{kind} {family}: {name} = {value!r} must be finite")
        problem = families.get(family).params[name].problem(x)
        if problem:
            raise ValueError(f"{kind} {family}: {problem}")
        out[name] = float(round(x)) if name in INTEGER_PARAMS else x
    return out


def _number(kind: str, family: str, name: str, value: object) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{kind} {family}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{kind} {family}: {name} = {value!r} must be finite")
    return x


def parse_formula_params(text: str) -> dict[str, float]:
    """``"a=0.02, f=40"`` -> {"a": 0.02, "f": 40.0} (the named numbers of a formula)."""
    out: dict[str, float] = {}
    for part in (t.strip() for t in str(text).replace(";", ",").split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise ValueError(f"formula parameters: {part!r}; write name=number, name=number")
        out[name] = _number("formula", "parameters", name, value.strip())
    return out


def format_formula_params(params: dict[str, object]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in params.items() if k not in ("expr", "outside")
                     and isinstance(v, (int, float)))  # fmt: skip


def check_instance_name(name: str) -> str:
    """A usable instance name: non-empty, one line, no surrounding spaces."""
    name = str(name).strip()
    if not name or any(c in name for c in "\n\r\t:#,[]{}"):
        raise ValueError(f"instance name {name!r}: use letters, digits, '_', '.', '-'")
    return name
