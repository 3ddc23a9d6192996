"""2D section SDFs over (N, 2) points: circle, ellipse, irregular polygon, n-point star.

Each function takes points ``q`` (N, 2) and returns (N,) signed distances (negative inside).
"""

from __future__ import annotations

import math
from functools import lru_cache

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


def polygon(q: Points2D, vertices: torch.Tensor | list[list[float]]) -> Field:
    """Exact SDF of a simple polygon given as (n, 2) vertices in order.

    Distance is the minimum over edges; the sign comes from the crossing-number
    (winding) rule, so any simple polygon, convex or not, is exact. The loop runs over
    the n edges with whole-batch tensor operations (n <= 9 here), never over points.

    >>> square = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    >>> polygon(torch.tensor([[0.0, 0.0], [3.0, 0.0]]), square).tolist()
    [-1.0, 2.0]
    """
    verts = vertices.tolist() if isinstance(vertices, torch.Tensor) else vertices
    if q.requires_grad and torch.is_grad_enabled():
        return _polygon_plain(q, verts)
    if len(q) <= SMALL_BATCH:
        return _polygon_edges(q, verts)
    px, py = q[:, 0].contiguous(), q[:, 1].contiguous()
    # per edge x_i, y_i, e_x, e_y, 1 / |e|^2 as 0-dim tensors of the points' dtype: the
    # values a Python float operand is rounded to, without a conversion per operator call
    edges = _edge_scalars(tuple((float(x), float(y)) for x, y in verts), q.dtype, q.device)
    below = [py < e[1] for e in edges]  # py < y_k per vertex: the ray test's two sides
    # buffers reused by every edge; each op is the plain formula's, in the same order
    wx, wy, t, tmp = (torch.empty_like(px) for _ in range(4))
    dist2 = torch.full_like(px, math.inf)
    flips = torch.zeros_like(px, dtype=torch.bool)
    side = torch.empty_like(flips)
    for i, (xi, yi, ex, ey, inv) in enumerate(edges):
        torch.sub(px, xi, out=wx)
        torch.sub(py, yi, out=wy)
        # the edge crosses the ray from q: y_i <= py < y_j or y_j <= py < y_i, q left of it
        torch.gt(torch.mul(wy, ex, out=t), torch.mul(wx, ey, out=tmp), out=side)
        side.eq_(below[i - 1]).logical_and_(below[i] != below[i - 1])
        flips.logical_xor_(side)
        torch.mul(wx, ex, out=t).add_(torch.mul(wy, ey, out=tmp)).mul_(inv).clamp_(0.0, 1.0)
        wx.sub_(torch.mul(t, ex, out=tmp))
        wy.sub_(torch.mul(t, ey, out=tmp))
        torch.minimum(dist2, wx.mul_(wx).add_(wy.mul_(wy)), out=dist2)
    dist = dist2.sqrt_()
    return torch.where(flips, -dist, dist)


SMALL_BATCH = 8192
"""Up to this many points, :func:`polygon` runs over all edges at once ((n, N) tensors: a
dozen operator calls instead of a dozen per edge; culling and lattice minima evaluate
sections at a few thousand block centres). Beyond, the loop over edges reads less memory."""


def _polygon_edges(q: Points2D, verts: list[list[float]]) -> Field:
    """:func:`polygon` with the edges along a first dimension: every element gets the same
    float32 operations in the same order (bit for bit the loop's result; the minimum and
    the parity of the crossings do not depend on the order)."""
    key = tuple((float(x), float(y)) for x, y in verts)
    vx, vy, ex_t, ey_t, inv_t = _edge_columns(key, q.dtype, q.device)
    px, py = q[:, 0], q[:, 1]
    wx, wy = px - vx, py - vy  # (n, N)
    below = py < vy
    below_prev = below.roll(1, 0)
    side = (wy * ex_t) > (wx * ey_t)
    flips = (side == below_prev).logical_and_(below != below_prev).sum(0).remainder_(2).bool()
    t = (wx * ex_t).add_(wy * ey_t).mul_(inv_t).clamp_(0.0, 1.0)
    wx.sub_(t * ex_t)
    wy.sub_(t.mul_(ey_t))
    dist = wx.mul_(wx).add_(wy.mul_(wy)).amin(0).sqrt_()
    return torch.where(flips, -dist, dist)


@lru_cache(maxsize=512)
def _edge_scalars(
    verts: tuple[tuple[float, float], ...], dtype: torch.dtype, device: torch.device
) -> list[tuple[torch.Tensor, ...]]:
    """Per edge (x_i, y_i, e_x, e_y, 1 / |e|^2), e = v_(i-1) - v_i, as :func:`polygon`'s
    loop computes them in Python floats, each a 0-dim tensor of ``dtype`` (cached)."""
    cols = _edge_columns(verts, dtype, device)
    return [tuple(c[i, 0] for c in cols) for i in range(len(verts))]


@lru_cache(maxsize=512)
def _edge_columns(
    verts: tuple[tuple[float, float], ...], dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """(n, 1) columns x_i, y_i, e_x, e_y, 1 / |e|^2 of a polygon's edges (e = v_(i-1) - v_i),
    as :func:`polygon`'s loop computes them in Python floats; cached (constant per polygon)."""
    prev = [verts[i - 1] for i in range(len(verts))]
    ex = [xj - xi for (xi, _), (xj, _) in zip(verts, prev, strict=True)]
    ey = [yj - yi for (_, yi), (_, yj) in zip(verts, prev, strict=True)]
    inv = [1.0 / max(a * a + b * b, 1e-12) for a, b in zip(ex, ey, strict=True)]
    cols = ([x for x, _ in verts], [y for _, y in verts], ex, ey, inv)
    return tuple(torch.tensor(v, dtype=dtype, device=device)[:, None] for v in cols)


def star_inner_ratio(n: int, w: float) -> float:
    """Inner / outer radius of the classic n-point star ``sdStar(p, r, n, w)``.

    Its edges leave each tip towards the vertices of an m-gon, m = n + w (2 - n) (w = 0:
    spikes of zero width; w = 1: the regular n-gon), so the inner vertex lies at
    r sin(pi/m - pi/n) / sin(pi/m). See docs/method.md, "Stars".

    >>> star_inner_ratio(5, 0.0)
    0.0
    >>> round(star_inner_ratio(5, 1.0), 6) == round(math.cos(math.pi / 5), 6)
    True
    >>> round(star_inner_ratio(5, 0.5), 4)
    0.3403
    """
    m = n + w * (2.0 - n)
    return math.sin(math.pi / m - math.pi / n) / math.sin(math.pi / m)


def star(q: Points2D, n: int, radius: float, ratio: float) -> Field:
    """Exact SDF of a regular n-point star with outer radius ``radius``, inner ``ratio * radius``.

    The plane folds into one wedge of angle pi/n by the star's dihedral symmetry; there
    the boundary is the single segment from the outer tip (r, 0) to the inner vertex.
    """
    if q.requires_grad and torch.is_grad_enabled():
        return _star_plain(q, n, radius, ratio)
    half = math.pi / n
    ang = torch.atan2(q[:, 1], q[:, 0]).remainder_(2.0 * half)
    ang = torch.where(ang > half, 2.0 * half - ang, ang)
    rho = q.norm(dim=-1)
    ax, ay = radius, 0.0
    bx, by = ratio * radius * math.cos(half), ratio * radius * math.sin(half)
    ex, ey = bx - ax, by - ay
    # in place, each op the plain formula's: w = (rho cos, rho sin) - a, t, w - e t
    wx, wy = torch.cos(ang).mul_(rho).sub_(ax), torch.sin(ang).mul_(rho).sub_(ay)
    t = torch.mul(wx, ex).add_(wy * ey).div_(ex * ex + ey * ey).clamp_(0.0, 1.0)
    outside = (wy * ex).sub_(wx * ey) < 0.0  # right of the tip->inner edge = away from origin
    wx.sub_(t * ex).mul_(wx)
    dist = wy.sub_(t.mul_(ey)).mul_(wy).add_(wx).sqrt_()
    return torch.where(outside, dist, -dist)


# The plain formulas: differentiable (tests take gradients of the fields). The functions
# above compute exactly the same operations in place, bit for bit (tests/core/test_sections.py).
def _polygon_plain(q: Points2D, verts: list[list[float]]) -> Field:
    px, py = q[:, 0], q[:, 1]
    dist2 = flips = None
    for i, (xi, yi) in enumerate(verts):
        xj, yj = verts[i - 1]
        ex, ey = xj - xi, yj - yi
        inv = 1.0 / max(ex * ex + ey * ey, 1e-12)
        wx, wy = px - xi, py - yi
        t = ((wx * ex + wy * ey) * inv).clamp_(0.0, 1.0)
        bx, by = wx - t * ex, wy - t * ey
        d = bx * bx + by * by
        c1, c2, c3 = py >= yi, py < yj, (ex * wy) > (ey * wx)
        f = (c1 == c2) & (c2 == c3)  # the edge crosses the ray from q
        dist2 = d if dist2 is None else torch.minimum(dist2, d)
        flips = f if flips is None else flips ^ f
    assert dist2 is not None and flips is not None
    dist = dist2.sqrt()
    return torch.where(flips, -dist, dist)


def _star_plain(q: Points2D, n: int, radius: float, ratio: float) -> Field:
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
