"""Probabilities in the preprocessed grid -> label map in the original geometry, in slabs.

The preprocessing (RAS orientation, resampling to the plan's spacing, foreground crop) maps
original voxel indices to preprocessed ones by an affine map whose matrix is a signed axis
permutation times a diagonal: ``q = inv(A_pre) @ A_orig @ i``. The inverse of the whole
pipeline is therefore a trilinear interpolation of each channel in the preprocessed grid at
the original voxel centres, with zeros outside the crop (what MONAI's ``Invertd`` does: pad
the crop with zeros, resample back, re-orient): two weighted slices along the streamed axis,
then ``torch.nn.functional.grid_sample`` in-plane.

:class:`ArgmaxWriter` receives the probabilities slab by slab along the preprocessed last
axis (as :func:`.sliding.sliding_chunks` produces them), interpolates only the original
slices that the slab completes, takes the argmax and writes it into the ``uint8`` label map:
no channel is ever held at full size, so the peak is the label map plus a few slabs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

SLAB_BYTES = 128 * 2**20  # interpolated probabilities held at once (all channels)


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
    q: np.ndarray  # source positions
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
            q,
            n_src,
        )

    def support(self) -> slice:
        """The contiguous range of output indices with any weight (others stay 0)."""
        nz = np.flatnonzero((self.w0 + self.w1).numpy() > 0)
        return slice(int(nz[0]), int(nz[-1]) + 1) if nz.size else slice(0, 0)



class ArgmaxWriter:
    """Streams probability slabs (preprocessed grid) into a label map (original grid).

    Args:
        src_shape: spatial shape of the preprocessed image.
        src_affine: its affine (after orientation, resampling and crop).
        dst_shape, dst_affine: the original image's spatial shape and affine.
        dtype: label dtype (``uint8`` below 256 classes).
    """

    shortcut_classes = 254  # up to this many channels, copy labels where neighbours agree

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
        z = self.lerp[2]
        live = np.flatnonzero((z.w0 + z.w1).numpy() > 0)
        need = np.maximum(z.i0.numpy(), z.i1.numpy())[live]
        self.pending = live[np.argsort(need, kind="stable")]  # original slices, by readiness
        self.need = np.sort(need, kind="stable")
        self._grid: torch.Tensor | None = None
        self._pad: list[tuple[np.ndarray, ...]] | None = None
        self.carry: torch.Tensor | None = None
        self.carry_at = 0

    def add(self, start: int, probs: torch.Tensor) -> None:
        """Probabilities ``(C, n0, n1, L)`` of preprocessed slices ``start .. start + L``
        (consecutive calls, in order)."""
        stop = start + probs.shape[-1]
        if self.carry is not None:
            probs = torch.cat([self.carry, probs], -1)
            base = self.carry_at
        else:
            base = start
        k = int(np.searchsorted(self.need, stop, side="left"))  # ready: need < stop
        ready, self.pending, self.need = self.pending[:k], self.pending[k:], self.need[k:]
        if ready.size:
            self._write(probs, base, ready)
        self.carry, self.carry_at = probs[..., -1:].clone(), stop - 1

    def _write(self, probs: torch.Tensor, base: int, ready: np.ndarray) -> None:
        """Interpolate the ``ready`` original slices and write their argmax.

        Along the streamed axis: two weighted preprocessed slices. In-plane (bilinear, zeros
        outside the crop): where the (up to) four preprocessed neighbours of an original
        voxel share one argmax, the interpolated probabilities have it too (a convex
        combination keeps every ``p_k >= p_j``), so it is copied; only the other voxels
        (near boundaries) are interpolated, channel by channel. More than 254 classes: all
        voxels are interpolated (``grid_sample``).
        """
        c = probs.shape[0]
        d0, d1 = (self.keep[t].stop - self.keep[t].start for t in range(2))
        full = c > self.shortcut_classes
        step = max(1, SLAB_BYTES // max(c * d0 * d1 * 4 if full else d0 * d1 * 24, 1))
        stack = probs.permute(3, 0, 1, 2).contiguous()  # (L, C, n0, n1): slices first
        z = self.lerp[2]
        for i in range(0, ready.size, step):
            idx = torch.from_numpy(ready[i : i + step])
            sl = stack.index_select(0, z.i0[idx] - base) * z.w0[idx].view(-1, 1, 1, 1)
            if bool((z.w1[idx] > 0).any()):  # slices that fall on a source slice need one
                sl += stack.index_select(0, z.i1[idx] - base) * z.w1[idx].view(-1, 1, 1, 1)
            sl = F.pad(sl, (1, 1, 1, 1))  # zeros around the crop: MONAI's inverse crop
            lab = self._plane_all(sl) if full else self._plane_shortcut(sl)
            self.view[self.keep[0], self.keep[1], ready[i : i + step]] = lab.transpose(1, 2, 0)

    def _plane_shortcut(self, sl: torch.Tensor) -> np.ndarray:
        """Labels ``(r, D0, D1)`` of zero-padded z-interpolated slices ``(r, C, n0+2, n1+2)``."""
        pa, pb = self._padded_lerps()
        src = torch.argmax(sl, 1).numpy().astype(np.uint8)
        src[:, 0, :] = src[:, -1, :] = src[:, :, 0] = src[:, :, -1] = 255  # outside: no class
        mn = np.minimum(src[:, pa[0], :], src[:, pa[1], :])
        mx = np.maximum(src[:, pa[0], :], src[:, pa[1], :])
        mn = np.minimum(mn[:, :, pb[0]], mn[:, :, pb[1]])
        mx = np.maximum(mx[:, :, pb[0]], mx[:, :, pb[1]])
        zz, aa, bb = np.nonzero((mn != mx) | (mn == 255))
        lab = mn.astype(self.out.dtype)
        if zz.size:
            acc = torch.zeros((zz.size, sl.shape[1]))
            zt = torch.from_numpy(zz)
            for ia, wa in ((pa[0], pa[2]), (pa[1], pa[3])):
                for ib, wb in ((pb[0], pb[2]), (pb[1], pb[3])):
                    w = torch.from_numpy(wa[aa] * wb[bb])
                    sel = sl[zt, :, torch.from_numpy(ia[aa]), torch.from_numpy(ib[bb])]
                    acc += sel * w[:, None]
            lab[zz, aa, bb] = torch.argmax(acc, 1).numpy().astype(self.out.dtype)
        return lab

    def _padded_lerps(self) -> list[tuple[np.ndarray, ...]]:
        """In-plane ``(i0, i1, w0, w1)`` of the kept original voxels in the zero-padded plane."""
        if self._pad is None:
            self._pad = []
            for t in range(2):
                lp = self.lerp[t]
                q = lp.q[self.keep[t]] + 1.0
                q0 = np.floor(q)
                frac = q - q0
                i0 = np.clip(q0.astype(np.int64), 0, lp.n + 1)
                i1 = np.clip(q0.astype(np.int64) + 1, 0, lp.n + 1)
                w0, w1 = (1 - frac).astype(np.float32), frac.astype(np.float32)
                i1 = np.where(w1 > 0, i1, i0)
                i0 = np.where(w0 > 0, i0, i1)
                self._pad.append((i0, i1, w0, w1))
        return self._pad

    def _plane_all(self, sl: torch.Tensor) -> np.ndarray:
        """Labels ``(r, D0, D1)`` by ``grid_sample`` of every kept voxel (all channels)."""
        plane = self._plane_grid()
        grid = plane[None].expand(sl.shape[0], *plane.shape)
        p = F.grid_sample(sl, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        return torch.argmax(p, 1).numpy().astype(self.out.dtype)

    def _plane_grid(self) -> torch.Tensor:
        """``grid_sample`` coordinates ``(D0, D1, 2)`` of the kept original in-plane voxels
        in the zero-padded preprocessed plane (x indexes the last axis)."""
        if self._grid is None:
            q = []
            for t in range(2):
                lp = self.lerp[t]
                pos = lp.q[self.keep[t]] + 1.0  # +1: the zero padding
                q.append(torch.from_numpy(2 * pos / (lp.n + 1) - 1).float())  # n + 2 samples
            g0, g1 = torch.meshgrid(q[0], q[1], indexing="ij")
            self._grid = torch.stack([g1, g0], -1)
        return self._grid

    def result(self) -> np.ndarray:
        """The label map; every original slice with support must have been written."""
        if self.pending.size:
            raise RuntimeError(f"{self.pending.size} original slice(s) never received data")
        return self.out
