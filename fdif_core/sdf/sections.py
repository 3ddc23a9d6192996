"""2D section SDFs over (N, 2) points: circle, ellipse, irregular polygon, n-point star.

Each function takes points ``q`` (N, 2) and returns (N,) signed distances (negative inside).
"""

from __future__ import annotations

import math

import torch

from ..types import Field, Points2D


def circle(q: Points2D, radius: float) -> Field:
    """Exact SDF of a disc: ``|q| - r``.

    >>> float(circle(torch.tensor([[3.0, 4.0]]), 2.0))
    3.0
    """
    return q.norm(dim=-1) - radius


def ellipse(q: Points2D, radii: tuple[float, float]) -> Field:
    """Bound for an ellipse: ``(|q / r| - 1) * min(r)`` (|grad| <= 1, exact zero set)."""
    r = q.new_tensor(radii)
    return (torch.linalg.vector_norm(q / r, dim=-1) - 1.0) * min(radii)


def polygon(q: Points2D, vertices: torch.Tensor) -> Field:
    """Exact SDF of a simple polygon given as (n, 2) vertices in order.

    Distance is the minimum over edges; the sign comes from the crossing-number
    (winding) rule, so any simple polygon, convex or not, is exact.

    >>> square = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    >>> polygon(torch.tensor([[0.0, 0.0], [3.0, 0.0]]), square).tolist()
    [-1.0, 2.0]
    """
    v = vertices.to(q)
    vj = torch.roll(v, 1, dims=0)  # previous vertex
    e = vj - v  # (n, 2)
    w = q[:, None, :] - v[None]  # (N, n, 2)
    ee = (e * e).sum(-1).clamp_min(1e-12)
    t = ((w * e).sum(-1) / ee).clamp(0.0, 1.0)
    b = w - e * t[..., None]
    dist2 = (b * b).sum(-1).amin(dim=1)
    qy = q[:, 1:2]
    c1 = qy >= v[None, :, 1]
    c2 = qy < vj[None, :, 1]
    c3 = e[None, :, 0] * w[..., 1] > e[None, :, 1] * w[..., 0]
    flips = ((c1 & c2 & c3) | (~c1 & ~c2 & ~c3)).sum(dim=1)
    sign = 1.0 - 2.0 * (flips % 2).to(q.dtype)
    return sign * dist2.sqrt()


def star(q: Points2D, n: int, radius: float, ratio: float) -> Field:
    """Exact SDF of a regular n-point star with outer radius ``radius``, inner ``ratio * radius``.

    The plane folds into one wedge of angle pi/n by the star's dihedral symmetry; there
    the boundary is the single segment from the outer tip (r, 0) to the inner vertex.
    """
    half = math.pi / n
    ang = torch.atan2(q[:, 1], q[:, 0]).remainder(2.0 * half)
    ang = torch.where(ang > half, 2.0 * half - ang, ang)
    rho = q.norm(dim=-1)
    px, py = rho * torch.cos(ang), rho * torch.sin(ang)
    ax, ay = radius, 0.0
    bx, by = ratio * radius * math.cos(half), ratio * radius * math.sin(half)
    ex, ey = bx - ax, by - ay
    wx, wy = px - ax, py - ay
    t = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0)
    dx, dy = wx - ex * t, wy - ey * t
    dist = torch.sqrt(dx * dx + dy * dy)
    outside = (ex * wy - ey * wx) < 0.0  # right of the tip->inner edge = away from origin
    return torch.where(outside, dist, -dist)
