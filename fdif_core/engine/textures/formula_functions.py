"""The functions a formula may call (name: number of arguments, torch implementation),
among them the noise families ``perlin(x, y, z, freq)`` and ``fbm(x, y, z, freq, octaves)``.

Both are the engine's own Perlin gradient noise (``displacements.perlin3``, fixed seeds,
so a formula renders the same volume every time); ``fbm`` sums octaves o = 0..octaves-1
with weights 0.5^o at frequencies freq·2^o (seed o), normalised by the weights, as the
``gradient_noise`` family does with persistence 0.5. ``freq`` and ``octaves`` must be
numbers or named parameters (checked before any rendering); ``octaves`` is an integer in
1..``MAX_OCTAVES``. The values lie within ±``BOUND`` (sampled maximum of |perlin3| about
1.02), which the formulas' interval arithmetic uses for culling.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import torch

Value = Any  # torch.Tensor or float

BOUND = 1.1
MAX_OCTAVES = 8
NUMBER_ARGS = {"perlin": (3,), "fbm": (3, 4)}
"""Argument positions that must be numbers or named parameters (not the coordinates)."""


def _points(x: Any, y: Any, z: Any) -> torch.Tensor:
    ref = next((v for v in (x, y, z) if isinstance(v, torch.Tensor)), None)
    if ref is None:
        ref = torch.tensor(0.0)
    full = [v if isinstance(v, torch.Tensor) else torch.full_like(ref, float(v)) for v in (x, y, z)]
    cols = torch.broadcast_tensors(*full)
    return torch.stack([c.to(torch.float32) for c in cols], dim=-1).reshape(-1, 3)


def perlin(x: Any, y: Any, z: Any, freq: float) -> torch.Tensor:
    """Perlin gradient noise at (x, y, z)·freq, in about [-1, 1] (seed 0)."""
    from .displacements import perlin3  # displacements imports the formula module

    shape = torch.broadcast_shapes(*(v.shape for v in (x, y, z) if isinstance(v, torch.Tensor)))
    return perlin3(_points(x, y, z) * float(freq), seed=0).reshape(shape)


def fbm(x: Any, y: Any, z: Any, freq: float, octaves: float) -> torch.Tensor:
    """Fractal Brownian motion: Σ_o 0.5^o perlin(2^o freq ·) / Σ_o 0.5^o, seeds 0.."""
    from .displacements import perlin3

    shape = torch.broadcast_shapes(*(v.shape for v in (x, y, z) if isinstance(v, torch.Tensor)))
    pts = _points(x, y, z)
    total, norm = torch.zeros(len(pts), device=pts.device), 0.0
    for o in range(int(octaves)):
        w = 0.5**o
        total = total + w * perlin3(pts * (float(freq) * 2.0**o), seed=o)
        norm += w
    return (total / norm).reshape(shape)


def check_numbers(name: str, values: list[float | None]) -> str | None:
    """Why the number arguments of ``name`` (None: not a number) are refused, or None."""
    where = NUMBER_ARGS.get(name, ())
    if any(values[i] is None for i in where):
        what = "freq" if name == "perlin" else "freq and octaves"
        return f"{name}(): {what} must be numbers or named parameters"
    if name == "fbm":
        octaves = values[4]
        if octaves != int(octaves) or not 1 <= octaves <= MAX_OCTAVES:  # type: ignore[operator]
            return f"fbm(): octaves = {octaves:g}; allowed: an integer 1..{MAX_OCTAVES}"
    return None


def number_value(node: ast.AST, params: dict[str, float]) -> float | None:
    """The value of a number or named parameter (signed), else None."""
    sign = -1.0 if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else 1.0
    node = node.operand if isinstance(node, ast.UnaryOp) else node
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return sign * float(node.value)
    return (
        sign * float(params[node.id]) if isinstance(node, ast.Name) and node.id in params else None
    )


def _where(c: Value, a: Value, b: Value) -> Value:
    ref = next((v for v in (c, a, b) if isinstance(v, torch.Tensor)), None)
    if ref is None:
        return a if c else b
    c, a, b = (v if isinstance(v, torch.Tensor) else torch.tensor(float(v), device=ref.device)
               for v in (c, a, b))  # fmt: skip
    return torch.where(c.bool(), a, b)


def as_tensor(v: Value) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.tensor(float(v))


FUNCTIONS: dict[str, tuple[int, Callable[..., Value]]] = {
    # name: (number of arguments, torch implementation)
    "sin": (1, lambda a: torch.sin(as_tensor(a))),
    "cos": (1, lambda a: torch.cos(as_tensor(a))),
    "tanh": (1, lambda a: torch.tanh(as_tensor(a))),
    "exp": (1, lambda a: torch.exp(as_tensor(a))),
    "log": (1, lambda a: torch.log(as_tensor(a))),
    "sqrt": (1, lambda a: torch.sqrt(as_tensor(a))),
    "abs": (1, lambda a: as_tensor(a).abs()),
    "floor": (1, lambda a: torch.floor(as_tensor(a))),
    "ceil": (1, lambda a: torch.ceil(as_tensor(a))),
    "sign": (1, lambda a: torch.sign(as_tensor(a))),
    "min": (2, lambda a, b: torch.minimum(as_tensor(a), as_tensor(b))),
    "max": (2, lambda a, b: torch.maximum(as_tensor(a), as_tensor(b))),
    "mod": (2, lambda a, b: torch.remainder(as_tensor(a), b)),
    "clip": (3, lambda a, lo, hi: as_tensor(a).clamp(lo, hi)),
    "where": (3, _where),
    "perlin": (4, lambda x, y, z, f: perlin(x, y, z, f)),
    "fbm": (5, lambda x, y, z, f, o: fbm(x, y, z, f, o)),
}
