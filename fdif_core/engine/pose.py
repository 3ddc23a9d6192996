"""Object pose: x' = (T R S)^-1 x, R = Rz Ry Rx, symmetric shear S (docs/method.md, Pose)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from .types import Points, Range

SMALL_BATCH = 8192
"""Up to this many points, :meth:`Pose.to_object` maps whole (N, 3) rows at once (fewer
operator calls); beyond, column by column through reused buffers (less memory traffic)."""


@dataclass(frozen=True)
class PoseRanges:
    """Sampling ranges: translation as a fraction of each axis, angles in radians, shear values."""

    translation: Range = (-0.35, 0.35)
    rotation: Range = (-math.pi, math.pi)
    shear: Range = (-0.1, 0.1)


def rotation_matrix(angles: tuple[float, float, float]) -> torch.Tensor:
    """R = Rz @ Ry @ Rx for angles (ax, ay, az) in radians, float64 (3, 3)."""
    ax, ay, az = angles
    cx, sx, cy, sy, cz, sz = (
        math.cos(ax),
        math.sin(ax),
        math.cos(ay),
        math.sin(ay),
        math.cos(az),
        math.sin(az),
    )
    rx = torch.tensor([[1, 0, 0], [0, cx, -sx], [0, sx, cx]], dtype=torch.float64)
    ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float64)
    rz = torch.tensor([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]], dtype=torch.float64)
    return rz @ ry @ rx


def shear_matrix(values: tuple[float, float, float]) -> torch.Tensor:
    """Symmetric shear with unit diagonal and off-diagonals (xy, xz, yz)."""
    a, b, c = values
    return torch.tensor([[1, a, b], [a, 1, c], [b, c, 1]], dtype=torch.float64)


@dataclass(frozen=True)
class Pose:
    """Forward map x = M x' + t (M = R S); stored as plain lists for JSON."""

    matrix: tuple[tuple[float, ...], ...]
    translation: tuple[float, float, float]

    @classmethod
    def build(
        cls,
        translation: tuple[float, float, float],
        angles: tuple[float, float, float],
        shear: tuple[float, float, float],
    ) -> Pose:
        m = rotation_matrix(angles) @ shear_matrix(shear)
        return cls(tuple(tuple(r) for r in m.tolist()), tuple(translation))  # type: ignore[arg-type]

    @classmethod
    def identity(cls) -> Pose:
        return cls.build((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))

    def to_object(self, x: Points) -> Points:
        """World points (N, 3) -> object space: M^-1 (x - t).

        Written as elementwise multiply-adds (not a matmul) so every point's result is
        bit-identical however the points are batched.
        """
        grad = x.requires_grad and torch.is_grad_enabled()
        if len(x) <= SMALL_BATCH and not grad:  # few points: whole rows, 6 operator calls
            t, rows = self._float_rows(x.dtype, x.device)
            d = x - t
            return (d[:, 0:1] * rows[0]).add_(d[:, 1:2] * rows[1]).add_(d[:, 2:3] * rows[2])
        d = [x[:, k] - t for k, t in enumerate(self.translation)]  # contiguous columns
        if grad:  # differentiable: the plain formula
            cols = [(d[0] * r[0]).add_(d[1] * r[1]).add_(d[2] * r[2]) for r in self.inverse]
            return torch.stack(cols, dim=1)
        out = x.new_empty(x.shape[0], 3)
        col, tmp = torch.empty_like(d[0]), torch.empty_like(d[0])  # reused: fewer temporaries
        for k, r in enumerate(self.inverse):
            torch.mul(d[0], r[0], out=col).add_(torch.mul(d[1], r[1], out=tmp))
            out[:, k] = col.add_(torch.mul(d[2], r[2], out=tmp))
        return out

    def object_axis(self, x: Points, k: int) -> torch.Tensor:
        """Column ``k`` of :meth:`to_object` alone (the same operations, bit for bit)."""
        r = self.inverse[k]
        d = [x[:, j] - t for j, t in enumerate(self.translation)]
        return (d[0] * r[0]).add_(d[1] * r[1]).add_(d[2] * r[2])

    def _float_rows(
        self, dtype: torch.dtype, device: torch.device
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """t and the rows (M^-1[0][j], M^-1[1][j], M^-1[2][j]) of M^-1's transpose as
        tensors of ``dtype`` (the values a Python scalar operand is rounded to), cached."""
        key = (dtype, device)
        if key not in self._rows:
            t = torch.tensor(self.translation, dtype=dtype, device=device)
            cols = [[r[j] for r in self.inverse] for j in range(3)]
            self._rows[key] = (t, [torch.tensor(c, dtype=dtype, device=device) for c in cols])
        return self._rows[key]

    @cached_property
    def _rows(self) -> dict:
        return {}

    @cached_property
    def inverse(self) -> list[list[float]]:
        """M^-1 as nested lists."""
        return torch.linalg.inv(torch.tensor(self.matrix, dtype=torch.float64)).tolist()

    @cached_property
    def lipschitz(self) -> float:
        """Largest stretch of the world -> object map, |M^-1|_2 = 1 / smallest singular value."""
        m = torch.tensor(self.matrix, dtype=torch.float64)
        return float(1.0 / torch.linalg.svdvals(m).min())

    def world_box(self, half: tuple[float, float, float]) -> tuple[list[float], list[float]]:
        """Axis-aligned world box (lo, hi) of the object-space box with half-extents ``half``
        (|M| half around t, in Python floats: 3 x 3 numbers need no tensors)."""
        reach = [sum(abs(m) * h for m, h in zip(row, half, strict=True)) for row in self.matrix]
        t = self.translation
        return [a - r for a, r in zip(t, reach, strict=True)], [
            a + r for a, r in zip(t, reach, strict=True)
        ]


def sample_pose(
    gen: torch.Generator, ranges: PoseRanges, extent: tuple[float, float, float]
) -> Pose:
    """Draw a pose; translation is uniform in ``ranges.translation`` times each axis' extent."""

    # nine draws at once: the same stream as nine single draws (tests/core/test_pose.py)
    v = iter(torch.rand(9, generator=gen, dtype=torch.float64).tolist())

    def u(r: Range) -> float:
        return r[0] + (r[1] - r[0]) * next(v)

    t = tuple(u(ranges.translation) * e for e in extent)
    angles = tuple(u(ranges.rotation) for _ in range(3))
    shear = tuple(u(ranges.shear) for _ in range(3))
    return Pose.build(t, angles, shear)  # type: ignore[arg-type]
