"""Probabilities in the preprocessed grid -> label map in the original geometry, in slabs.

The preprocessing (RAS orientation, resampling to the plan's spacing, foreground crop) maps
original voxel indices to preprocessed ones by an affine map whose matrix is a signed axis
permutation times a diagonal: ``q = inv(A_pre) @ A_orig @ i``. The inverse of the whole
pipeline is therefore a trilinear interpolation of each channel in the preprocessed grid at
the original voxel centres, with zeros outside the crop (what MONAI's ``Invertd`` does: pad
the crop with zeros, resample back, re-orient), separable along the three axes.

:class:`ArgmaxWriter` receives the probabilities slab by slab along the preprocessed last
axis (as :func:`.sliding.sliding_chunks` produces them), maps only the original slices that
the slab completes and writes their argmax into the ``uint8`` label map, copying the
preprocessed argmax wherever an original voxel's corners agree and interpolating all
channels only where they do not: no channel is ever held at full size, so the peak is the
label map plus a slab and bounded batches (:data:`SLAB_BYTES`, :data:`WORK_BYTES`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SLAB_BYTES = 128 * 2**20  # interpolated probabilities held at once (all channels)
WORK_BYTES = 16 * 2**20  # one block of the whole-slice interpolation (all channels)
BAND = 32  # outputs per banded matrix along the in-plane axis 1


@dataclass(frozen=True)
class AxisMap:
    """Original axis ``j`` reads preprocessed axis ``src`` at ``scale * i + offset``."""

    src: int
    scale: float
    offset: float


def axis_maps(src_affine: np.ndarray, dst_affine: np.ndarray) -> list[AxisMap]:
    """Per original axis, the preprocessed axis it maps to and the linear index map.

    Raises:
        ValueError: the two grids are not related by an axis permutation, flips, scaling
            and a shift (an oblique resampling).
    """
    m = np.linalg.inv(np.asarray(src_affine, np.float64)) @ np.asarray(dst_affine, np.float64)
    maps = []
    for j in range(3):
        col = m[:3, j]
        k = int(np.argmax(np.abs(col)))
        rest = np.delete(np.abs(col), k)
        if rest.max() > 1e-4 * abs(col[k]):
            raise ValueError("the preprocessed grid is oblique to the original one")
        maps.append(AxisMap(k, float(col[k]), float(m[k, 3])))
    if sorted(a.src for a in maps) != [0, 1, 2]:
        raise ValueError("the preprocessed grid is not an axis permutation of the original one")
    return maps


@dataclass
class _Lerp:
    """Linear interpolation along one axis: out[i] = w0[i] x[i0[i]] + w1[i] x[i1[i]]."""

    i0: torch.Tensor
    i1: torch.Tensor
    w0: torch.Tensor
    w1: torch.Tensor
    n: int  # source length

    @classmethod
    def build(cls, amap: AxisMap, n_dst: int, n_src: int) -> _Lerp:
        q = amap.scale * np.arange(n_dst, dtype=np.float64) + amap.offset
        q0 = np.floor(q)
        frac = q - q0
        i0, i1 = q0.astype(np.int64), q0.astype(np.int64) + 1
        w0 = (1 - frac) * ((i0 >= 0) & (i0 < n_src))  # zeros outside the grid (the crop)
        w1 = frac * ((i1 >= 0) & (i1 < n_src))
        i0, i1 = np.clip(i0, 0, n_src - 1), np.clip(i1, 0, n_src - 1)
        i1 = np.where(w1 > 0, i1, i0)  # a neighbour without weight is not needed
        i0 = np.where(w0 > 0, i0, i1)
        return cls(
            torch.from_numpy(i0),
            torch.from_numpy(i1),
            torch.from_numpy(w0.astype(np.float32)),
            torch.from_numpy(w1.astype(np.float32)),
            n_src,
        )

    def support(self) -> slice:
        """The contiguous range of output indices with any weight (others stay 0)."""
        nz = np.flatnonzero((self.w0 + self.w1).numpy() > 0)
        return slice(int(nz[0]), int(nz[-1]) + 1) if nz.size else slice(0, 0)


def _pairs(x: np.ndarray, axis: int, op) -> np.ndarray:
    """``x`` followed, along ``axis``, by ``op`` of each pair of neighbours ``(j, j + 1)``:
    index ``j`` reads one source position, ``n + j`` the pair."""
    n = x.shape[axis]
    head = [slice(None)] * x.ndim
    tail = [slice(None)] * x.ndim
    head[axis], tail[axis] = slice(0, n - 1), slice(1, n)
    return np.concatenate([x, op(x[tuple(head)], x[tuple(tail)])], axis)


def _matrix(i0: np.ndarray, i1: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> torch.Tensor:
    """The lerps ``out[k] = w0[k] x[i0[k]] + w1[k] x[i1[k]]`` as a ``(k, n)`` matrix
    (``n = max(i1) + 1``; indices from 0)."""
    m = np.zeros((i0.size, int(max(i0.max(), i1.max())) + 1), np.float32)
    k = np.arange(i0.size)
    np.add.at(m, (k, i0), w0)
    np.add.at(m, (k, i1), w1)
    return torch.from_numpy(m)


def _blocks(i0, i1, w0, w1, size: int):
    """Consecutive blocks of ``size`` outputs: ``(first output, first source, matrix)``."""
    for j in range(0, i0.size, size):
        b0, b1 = i0[j : j + size], i1[j : j + size]
        lo = int(min(b0.min(), b1.min()))
        yield j, lo, _matrix(b0 - lo, b1 - lo, w0[j : j + size], w1[j : j + size])


class _FirstMax:
    """``argmax`` over dim 0 (the first maximum, as ``torch.max``) by vectorised numpy steps
    in reused buffers: the maximum, where each channel reaches it, ranks ``C - 1 - c`` there
    (0 elsewhere), the largest rank. Several times faster than ``torch.max(x, 0)``, which
    tracks indices element by element, and than torch's broadcast comparisons; the same
    result (NaN aside)."""

    def __init__(self, c: int, n: int) -> None:
        dtype = np.uint8 if c <= 256 else np.int32
        self.rank = np.arange(c - 1, -1, -1, dtype=dtype)[:, None]
        self.top, self.mx = np.empty(n, np.float32), np.empty(n, dtype)
        self.eq, self.ranks = np.empty(c * n, bool), np.empty(c * n, dtype)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        c, shape = x.shape[0], x.shape[1:]
        n = x[0].numel()
        v = x.numpy().reshape(c, n)  # a view for slabs that are contiguous per channel
        top, mx = self.top[:n], self.mx[:n]
        eq, ranks = self.eq[: c * n].reshape(c, n), self.ranks[: c * n].reshape(c, n)
        np.max(v, 0, out=top)
        np.equal(v, top, out=eq)
        np.multiply(eq, self.rank, out=ranks)
        np.max(ranks, 0, out=mx)
        return (c - 1 - mx).reshape(shape)


class ArgmaxWriter:
    """Streams probability slabs (preprocessed grid) into a label map (original grid).

    Args:
        src_shape: spatial shape of the preprocessed image.
        src_affine: its affine (after orientation, resampling and crop).
        dst_shape, dst_affine: the original image's spatial shape and affine.
        dtype: label dtype (``uint8`` below 256 classes).

    Exactness: an original voxel's probabilities are the trilinear combination
    ``sum_k w_k p(c_k)`` of its (up to) 8 corners ``c_k`` in the preprocessed grid, with
    ``w_k >= 0``; corners outside the crop contribute zeros (MONAI's inverse crop pads with
    zeros), which only scales the combination of the corners inside it. If every corner
    with ``w_k > 0`` inside the grid has the same argmax ``k`` (``p_k >= p_j`` for all
    ``j``, strictly for ``j < k``, the first maximum being the argmax), the combination
    keeps these inequalities, so its argmax is ``k`` as well. The writer therefore takes the
    argmax once per preprocessed voxel (``uint8``), gathers the minimum and maximum label
    over each original voxel's corners (separably: per axis, the source grid extended by the
    min / max of each neighbour pair, then one gather) and copies the label where they
    agree; only the other voxels (near class boundaries) are interpolated over all channels
    and reduced by argmax. Every original voxel inside the support has a corner with
    positive weight inside the grid; corners without weight or outside the grid are replaced
    by their partner along the same axis, so they never break the agreement. Where many
    voxels of a batch of slices disagree (an untrained network's speckled output), whole
    slices are interpolated axis by axis instead of voxel by voxel (:meth:`_dense`: along
    the slice axis first, each axis a product with a banded matrix of the same weights, in
    blocks of rows and bands of columns): the same values up to float32 rounding (the
    order of the two-term sums), which decides only exact ties; the argmax over channels is
    the first maximum either way. ``tests/core/test_inverse.py`` compares the result with a
    dense float64 interpolation + argmax.
    """

    #: ``False``: every voxel is interpolated over all channels (the reference the shortcut
    #: is tested against).
    shortcut = True
    #: Above this share of voxels to interpolate in a batch of slices, whole slices are
    #: interpolated one axis at a time (cheaper than corner gathers from about 15 % of the
    #: voxels on, measured with ``benchmarks/evaluate_speed.py``'s geometry).
    dense_share = 0.15

    def __init__(
        self,
        src_shape: tuple[int, int, int],
        src_affine: np.ndarray,
        dst_shape: tuple[int, int, int],
        dst_affine: np.ndarray,
        dtype: np.dtype | type = np.uint8,
    ) -> None:
        maps = axis_maps(src_affine, dst_affine)
        order = [next(j for j in range(3) if maps[j].src == t) for t in range(3)]
        self.out = np.zeros(tuple(int(s) for s in dst_shape), dtype=dtype)
        self.view = self.out.transpose(order)  # view axis t <-> preprocessed axis t
        self.lerp = [
            _Lerp.build(maps[order[t]], int(dst_shape[order[t]]), int(src_shape[t]))
            for t in range(3)
        ]
        self.keep = [self.lerp[t].support() for t in range(2)]
        # in-plane corners of the kept voxels (numpy, for the uint8 gathers)
        self.plane = [
            tuple(np.ascontiguousarray(getattr(self.lerp[t], f).numpy()[self.keep[t]])
                  for f in ("i0", "i1", "w0", "w1"))
            for t in range(2)
        ]  # fmt: skip
        # per kept in-plane voxel: its one source index j, or n + j for the pair (j, j + 1)
        self.pick = [
            np.where(i0 == i1, i0, self.lerp[t].n + i0)
            for t, (i0, i1, _, _) in enumerate(self.plane)
        ]
        self.bands = list(_blocks(*self.plane[1], BAND))  # in-plane axis 1, as matrices
        z = self.lerp[2]
        live = np.flatnonzero((z.w0 + z.w1).numpy() > 0)
        need = np.maximum(z.i0.numpy(), z.i1.numpy())[live]
        self.pending = live[np.argsort(need, kind="stable")]  # original slices, by readiness
        self.need = np.sort(need, kind="stable")
        self.carry: tuple[torch.Tensor, np.ndarray] | None = None  # the last slice

    def add(self, start: int, probs: torch.Tensor) -> None:
        """Probabilities ``(C, n0, n1, L)`` of preprocessed slices ``start .. start + L``
        (consecutive calls, in order; any float dtype or device, used as float32 on the
        CPU)."""
        probs = probs.detach().to("cpu", torch.float32)  # the same tensor when it is already
        stop = start + probs.shape[-1]
        lab_dtype = np.uint8 if probs.shape[0] < 256 else np.int32  # the largest: no class
        c, n0, n1, depth = probs.shape
        rows = max(1, WORK_BYTES // (4 * c * n1 * depth))
        first = _FirstMax(c, min(rows, n0) * n1 * depth)
        lab = np.empty((depth, n0, n1), lab_dtype)  # the first maximum of each voxel
        for i in range(0, n0, rows):
            lab[:, i : i + rows] = first(probs[:, i : i + rows]).transpose(2, 0, 1)
        k = int(np.searchsorted(self.need, stop, side="left"))  # ready: need < stop
        ready, self.pending, self.need = self.pending[:k], self.pending[k:], self.need[k:]
        z = self.lerp[2]
        early = np.minimum(z.i0.numpy()[ready], z.i1.numpy()[ready]) < start
        if early.any():  # between the previous slab's last slice and this one's first
            if self.carry is None:
                raise RuntimeError("probability slabs must arrive in order, from slice 0")
            pair = torch.cat([self.carry[0], probs[..., :1]], -1)
            self._write(pair, np.concatenate([self.carry[1], lab[:1]]), start - 1, ready[early])
        if not early.all():
            self._write(probs, lab, start, ready[~early])
        self.carry = (probs[..., -1:].clone(), lab[-1:].copy())

    def _write(self, probs: torch.Tensor, lab: np.ndarray, base: int, ready: np.ndarray) -> None:
        """Labels of the ``ready`` original slices, in batches of bounded size."""
        d0, d1 = (self.keep[t].stop - self.keep[t].start for t in range(2))
        step = max(1, SLAB_BYTES // max(d0 * d1 * 8, 1))
        z = self.lerp[2]
        zi0, zi1 = z.i0.numpy() - base, z.i1.numpy() - base
        for i in range(0, ready.size, step):
            r = ready[i : i + step]
            a, b = lab[zi0[r]], lab[zi1[r]]
            mn, mx = np.minimum(a, b), np.maximum(a, b)  # (r, n0, n1): over the z corners
            mn = np.take(_pairs(mn, 1, np.minimum), self.pick[0], 1)
            mx = np.take(_pairs(mx, 1, np.maximum), self.pick[0], 1)
            mn, mx = _pairs(mn, 2, np.minimum), _pairs(mx, 2, np.maximum)
            none = np.iinfo(lab.dtype).max  # not a class: more than 255 classes use int32
            out = np.take(np.where(mn == mx, mn, none), self.pick[1], 2)  # (r, D0, D1)
            unsure = out == none if self.shortcut else np.ones(out.shape, bool)
            if np.count_nonzero(unsure) > self.dense_share * unsure.size:
                out = self._dense(probs, zi0, zi1, r)
            else:
                zz, aa, bb = np.nonzero(unsure)
                part = max(1, SLAB_BYTES // (probs.shape[0] * 8))  # voxels interpolated at once
                for j in range(0, zz.size, part):
                    zj, aj, bj = zz[j : j + part], aa[j : j + part], bb[j : j + part]
                    out[zj, aj, bj] = self._interpolate(probs, r[zj], zi0, zi1, aj, bj)
            out = out.astype(self.out.dtype, copy=False)
            self.view[self.keep[0], self.keep[1], r] = out.transpose(1, 2, 0)

    def _dense(self, probs: torch.Tensor, zi0: np.ndarray, zi1: np.ndarray, r: np.ndarray):
        """Labels ``(len(r), D0, D1)`` of whole original slices ``r``: the interpolation of
        every channel at every kept voxel, one axis at a time, each as a product with a
        banded matrix of the weights (two non-zeros per output, exact zeros elsewhere: the
        same sums as the lerps, up to float rounding), then argmax. Blocks of original rows
        and columns keep the intermediates small (:data:`WORK_BYTES`), in buffers reused
        from block to block."""
        c, n1, nr = probs.shape[0], probs.shape[2], r.size
        (d0, d1), z = (k.stop - k.start for k in self.keep), self.lerp[2]
        lo = int(min(zi0[r].min(), zi1[r].min()))
        wz = _matrix(zi0[r] - lo, zi1[r] - lo, z.w0.numpy()[r], z.w1.numpy()[r]).T.contiguous()
        src = probs[..., lo : lo + wz.shape[0]]  # (C, n0, n1, Lz) @ (Lz, r): z first
        rows = max(1, WORK_BYTES // (4 * c * n1 * nr))
        blocks = list(_blocks(*self.plane[0], rows))
        h = max((wa.shape[1] for _, _, wa in blocks), default=0)
        y, t = torch.empty(c * h * n1 * nr), torch.empty(c * rows * n1 * nr)
        s = torch.empty(c * rows * BAND * nr)
        first = _FirstMax(c, rows * BAND * nr)
        out = np.empty((d0, d1, nr), self.out.dtype)
        for i, a_lo, wa in blocks:
            da, ha = wa.shape
            yv = y[: c * ha * n1 * nr].view(c, ha * n1, nr)
            for ci in range(c):
                torch.mm(src[ci, a_lo : a_lo + ha].reshape(-1, wz.shape[0]), wz, out=yv[ci])
            tv = t[: c * da * n1 * nr].view(c, da, n1, nr)
            torch.matmul(wa, yv.view(c, ha, n1 * nr), out=tv.view(c, da, n1 * nr))
            for j, b_lo, wb in self.bands:
                db, hb = wb.shape
                sv = s[: c * da * db * nr].view(c, da, db, nr)
                torch.matmul(wb, tv[:, :, b_lo : b_lo + hb], out=sv)
                out[i : i + da, j : j + db] = first(sv)
        return out.transpose(2, 0, 1)

    def _interpolate(self, probs, zs, zi0, zi1, aa, bb) -> np.ndarray:
        """Argmax of the trilinear interpolation (all channels) at the given voxels:
        original slices ``zs``, kept in-plane positions ``aa``, ``bb``."""
        z = self.lerp[2]
        (a0, a1, wa0, wa1), (b0, b1, wb0, wb1) = self.plane
        n1, n2 = probs.shape[2:]
        flat = probs.reshape(probs.shape[0], -1)
        acc = None
        wz0, wz1 = z.w0.numpy()[zs], z.w1.numpy()[zs]
        for ia, wa in ((a0[aa], wa0[aa]), (a1[aa], wa1[aa])):
            for ib, wb in ((b0[bb], wb0[bb]), (b1[bb], wb1[bb])):
                for iz, wz in ((zi0[zs], wz0), (zi1[zs], wz1)):
                    w = wa * wb * wz
                    if not w.any():
                        continue
                    idx = torch.from_numpy((ia * n1 + ib) * n2 + iz)
                    term = flat.index_select(1, idx) * torch.from_numpy(w)
                    acc = term if acc is None else acc.add_(term)
        return torch.max(acc, 0).indices.numpy().astype(self.out.dtype)

    def result(self) -> np.ndarray:
        """The label map; every original slice with support must have been written."""
        if self.pending.size:
            raise RuntimeError(f"{self.pending.size} original slice(s) never received data")
        return self.out
