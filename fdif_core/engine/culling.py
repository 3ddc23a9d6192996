"""Culling: the voxels an object may touch, by bounds of its field over blocks of voxels.

A block is dropped when a lower bound of the object's field over it lies beyond the value
below which a voxel matters (mapper halo plus what the displacement can add); blocks wholly
within it are listed whole, the others are cut into sub-blocks and bounded again. Dropped
voxels would add exactly 0 to the image and lie outside the label, so culled renders equal
full-grid ones bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from . import grid
from .sdf.geometry import BOUND_SLACK, block_bounds, block_lipschitz
from .sdf.library import PRIMITIVES, PrimitiveClass, evaluate, reach_extents
from .types import Shape3

if TYPE_CHECKING:
    from .compose import ObjectSpec, Recipe

BLOCK = 4  # edge, in voxels, of the blocks whose voxels are listed together
COARSE = BLOCK  # edge of the first culling pass's blocks (a power-of-2 multiple of BLOCK)


def no_sub_block_dropped(
    low: torch.Tensor, high: torch.Tensor, reach: torch.Tensor | float
) -> torch.Tensor:
    """Blocks whose sub-block pass would keep all 8 sub-blocks, by the Lipschitz bounds
    (phi at the centre -/+ L r): a sub-block's centre lies 2 r' from the block's (r' = r / 3
    its radius), so its lower bound phi - L r' is at most phi + L r' = mid + (high - low) / 6.
    Listing such a block whole skips the pass; for other bounds it is only a shortcut (a
    block kept whole is never wrong: culling just evaluates more voxels)."""
    return (low + high) * 0.5 + (high - low) / 6.0 <= reach


def voxels(
    recipe: Recipe, obj: ObjectSpec, shape: Shape3, device: torch.device, full_grid: bool = False
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Flat indices and world coordinates of the voxels the object may touch.

    The blocks of ``COARSE`` voxels that meet the object's own (oriented) box,
    displacement outreach and mapper halo included, are listed; bounds of the
    undisplaced field over each block (:func:`bounds`) drop every block where it lies
    beyond the value below which it matters (:func:`block_reach`: the halo plus a bound of
    what Δ can add there) and keep whole those wholly within it; the others are cut in 8
    and bounded again, down to sub-blocks of ``BLOCK / 2``. Voxels are always built from
    their ``BLOCK``-block's origin (the same values whichever blocks are kept).
    ``full_grid`` returns every voxel (the naive baseline).
    """
    ref = recipe.shape
    if full_grid:
        sl = tuple(slice(0, n) for n in shape)
    else:
        cls = PRIMITIVES.get(obj.primitive)
        reach = recipe.reach(obj)
        extents = reach_extents(cls, obj.params, reach)
        lo, hi = recipe.array_box(*recipe.frame_pose(obj).world_box(extents), shape)
        sl = grid.box_to_slices([x - 1.0 for x in lo], [x + 1.0 for x in hi], shape, ref)
        if sl is None:
            return None
    sl = grid.align(sl, BLOCK, shape)
    if full_grid:
        idx, pts = grid.block_voxels(grid.blocks(sl, BLOCK, device)[0], BLOCK, shape, ref)
        return idx, recipe.world(pts, shape)
    # coarse to fine: blocks of COARSE, COARSE / 2, ... BLOCK voxels; a block surely within
    # reach everywhere gives all its voxels, one that may be gives its 8 parts to the
    # next pass, the last pass bounds the 8 sub-blocks (BLOCK / 2) of each block left
    stop = torch.tensor([s.stop for s in sl], device=device)
    size = COARSE
    affine = index_affine(recipe, obj, shape)  # only blocks that meet the object's own box
    stops = [s.stop for s in sl]
    radial = extents[0] if extents[0] == extents[1] else None  # every class: |q| <= ext
    starts, centres = grid.blocks_in_box(sl, size, stops, affine, extents, device, radial)
    whole = []
    while True:
        low, high, limit = bounds(recipe, obj, cls, centres, size, shape, reach)
        near = (low <= limit).nonzero().squeeze(1)  # one nonzero for the selections
        low, high = low.index_select(0, near), high.index_select(0, near)
        starts, centres = starts.index_select(0, near), centres.index_select(0, near)
        if isinstance(limit, torch.Tensor):
            limit = limit.index_select(0, near)
        sure = high <= limit
        if size == BLOCK:  # also whole: blocks none of whose sub-blocks could be dropped
            sure |= no_sub_block_dropped(low, high, limit)
            whole.append(starts[sure])
            break
        whole.append(grid.split(starts[sure], size, BLOCK, stop)[0])
        starts, centres = grid.split(starts[~sure], size, size // 2, stop)
        size //= 2
    whole_starts = whole[0] if len(whole) == 1 else torch.cat(whole)
    unsure = starts[~sure]
    keep = None
    if len(unsure):
        sub = grid.sub_block_centres(unsure, BLOCK, shape).view(-1, 3)
        low, _, limit = bounds(recipe, obj, cls, sub, BLOCK // 2, shape, reach, False)
        keep = (low <= limit).view(-1, 8)
    if any(n % BLOCK for n in shape):  # partial blocks: lists of unknown length
        idx, pts = grid.block_voxels(whole_starts, BLOCK, shape, ref)
        if keep is not None:
            more = grid.sub_block_voxels(unsure, keep, BLOCK, shape, ref)
            idx, pts = torch.cat([idx, more[0]]), torch.cat([pts, more[1]])
        return idx, recipe.world(pts, shape)
    # one buffer: whole blocks first, then the kept sub-blocks (no concatenation)
    n_whole = len(whole_starts) * BLOCK**3
    n_sub = 0 if keep is None else int(keep.sum()) * (BLOCK // 2) ** 3
    idx = torch.empty(n_whole + n_sub, dtype=torch.int64, device=device)
    pts = torch.empty(n_whole + n_sub, 3, dtype=torch.float32, device=device)
    grid.block_voxels(whole_starts, BLOCK, shape, ref, out=(idx[:n_whole], pts[:n_whole]))
    if keep is not None:
        out = (idx[n_whole:], pts[n_whole:])
        grid.sub_block_voxels(unsure, keep, BLOCK, shape, ref, out=out)
    return idx, recipe.world(pts, shape)


def index_affine(recipe: Recipe, obj: ObjectSpec, shape: Shape3) -> tuple[np.ndarray, np.ndarray]:
    """(A, b), float64: a voxel index v (array order) maps to object space as A v + b
    (:func:`grid.centre_points`, ``Recipe.world`` and the frame pose composed)."""
    pose = recipe.frame_pose(obj)
    step = np.array([r / n for r, n in zip(recipe.shape, shape, strict=True)])
    shift = 0.5 * step if recipe.spec.grid == "authors" else 0.0
    inv = np.array(pose.inverse)
    origin = 0.5 * step - 0.5 * np.array(recipe.shape, dtype=np.float64) - shift
    return inv * step, inv @ (origin - np.array(pose.translation))


def bounds(
    recipe: Recipe,
    obj: ObjectSpec,
    cls: PrimitiveClass,
    centres: torch.Tensor,
    size: int,
    shape: Shape3,
    reach: float,
    upper: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | float]:
    """Lower and upper bounds of the undisplaced field over blocks of ``size`` voxels
    (float centre indices ``centres``), and the value below which it matters there
    (``reach``, or per block :func:`block_reach`). The bounds: the field at the centre
    -/+ L times the block's radius, with the Lipschitz constant L = L_field * |M^-1|;
    for the authors' profiled prisms, the tighter of those and ``block_bounds``'
    (``upper=False``: the lower bounds alone there, the same values)."""
    world = recipe.world(grid.centre_points(centres, shape, recipe.shape), shape)
    local = recipe.frame_pose(obj).to_object(world)
    step = [r / n for r, n in zip(recipe.shape, shape, strict=True)]
    half = [0.5 * (size - 1) * x for x in step]
    radius = sum(h * h for h in half) ** 0.5
    limit = block_reach(recipe, obj, world, local, half, reach)
    z_reach = sum(abs(v) for v in obj.pose.inverse[2]) * 0.5 * (size - 1) * max(step)
    rho = obj.pose.lipschitz * radius
    tight = block_bounds(cls, obj.params, local, rho, z_reach, upper)
    if tight is not None:  # tighter than the Lipschitz bound but for a few blocks: no field
        return *tight, limit
    phi = evaluate(cls, obj.params, local)
    lip = block_lipschitz(cls, obj.params, local[:, 2], z_reach) * obj.pose.lipschitz
    margin = lip * radius
    return phi - margin, phi + margin, limit


def block_reach(
    recipe: Recipe,
    obj: ObjectSpec,
    world: torch.Tensor,
    local: torch.Tensor,
    half: list[float],
    reach: float,
) -> torch.Tensor | float:
    """Per block (centres ``world``, object coordinates ``local``, per-axis half-widths
    ``half`` of its voxel centres), the value below which the undisplaced field matters:
    halo - (a lower bound of Δ over the block), never beyond ``reach`` (the global
    outreach) but for a rounding slack. The bound: the family's own over boxes
    (``Displacement.lower``), else Δ at the centre minus its Lipschitz constant times the
    block's radius; ``reach`` itself where there is none or it cannot be much tighter
    (lip x radius at least half of Δ's range)."""
    if obj.displacement < 0:
        return reach
    disp = recipe.displacements[obj.displacement]
    outward, inward = recipe.delta_range(obj)
    halo = recipe.mappers[obj.mapper].halo() + BOUND_SLACK
    if disp.spec.lower is not None:  # a voxel matters where phi <= halo - Δ
        x, mul = recipe.delta_input(obj, world, local)
        hw = torch.tensor([half], dtype=world.dtype, device=world.device)
        if recipe.spec.displacement_space == "object":  # the box of the block's image
            inv = recipe.frame_pose(obj).inverse
            hl = [sum(abs(m) * h for m, h in zip(row, half, strict=True)) for row in inv]
            hx = recipe.delta_input(obj, hw, torch.tensor([hl], dtype=world.dtype))[0]
        else:
            hx = recipe.delta_input(obj, hw, hw)[0].abs()
        low = disp.lower(x, hx[0].to(world.device))
        return (low * -mul).clamp_(max=outward).add_(halo)
    lip = delta_lipschitz(recipe, obj)
    radius = sum(h * h for h in half) ** 0.5
    if lip is None or 2.0 * lip * radius >= outward + inward:  # little to gain: no Δ
        return reach
    # Δ >= Δ(centre) - lip radius over the block, and a voxel matters where phi + Δ <= halo
    return (lip * radius - recipe.delta(obj, world, local)).clamp_(max=outward).add_(halo)


def delta_lipschitz(recipe: Recipe, obj: ObjectSpec) -> float | None:
    """A bound on |grad Δ| in reference voxels per reference voxel (None: unknown)."""
    lip = recipe.displacements[obj.displacement].lipschitz()
    if lip is None:
        return None
    if recipe.spec.displacement_space == "object":  # x̂ = M^-1 (x - t) / (G/2), Δ x G/2
        return lip * obj.pose.lipschitz
    div = recipe.displacement_frame()[0]
    low = float(div.min()) if isinstance(div, torch.Tensor) else float(div)
    return lip * recipe.displacement_frame()[1] / low
