"""Probabilities in the preprocessed grid -> label map in the original geometry, in slabs.

The preprocessing (RAS orientation, resampling to the plan's spacing, foreground crop) maps
original voxel indices to preprocessed ones by an affine map whose matrix is a signed axis
permutation times a diagonal: ``q = inv(A_pre) @ A_orig @ i``. The inverse of the whole
pipeline is therefore a separable linear interpolation, one axis at a time, of each channel
in the preprocessed grid at the original voxel centres, with zeros outside the crop (what
MONAI's ``Invertd`` does: pad the crop with zeros, resample back, re-orient).

:class:`ArgmaxWriter` receives the probabilities slab by slab along the preprocessed last
axis (as :func:`.sliding.sliding_chunks` produces them), interpolates only the original
slices that the slab completes, takes the argmax and writes it into the ``uint8`` label map:
no channel is ever held at full size, so the peak is the label map plus a few slabs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SLAB_BYTES = 256 * 2**20  # interpolated probabilities held at once (all channels)


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

    @classmethod
    def build(cls, amap: AxisMap, n_dst: int, n_src: int) -> _Lerp:
        q = amap.scale * np.arange(n_dst, dtype=np.float64) + amap.offset
        q0 = np.floor(q)
        frac = q - q0
        i0, i1 = q0.astype(np.int64), q0.astype(np.int64) + 1
        w0 = (1 - frac) * ((i0 >= 0) & (i0 < n_src))  # zeros outside the grid (the crop)
        w1 = frac * ((i1 >= 0) & (i1 < n_src))
        return cls(
            torch.from_numpy(np.clip(i0, 0, n_src - 1)),
            torch.from_numpy(np.clip(i1, 0, n_src - 1)),
            torch.from_numpy(w0.astype(np.float32)),
            torch.from_numpy(w1.astype(np.float32)),
        )

    def support(self) -> slice:
        """The contiguous range of output indices with any weight (others stay 0)."""
        nz = np.flatnonzero((self.w0 + self.w1).numpy() > 0)
        return slice(int(nz[0]), int(nz[-1]) + 1) if nz.size else slice(0, 0)

    def take(self, sel: slice | np.ndarray) -> _Lerp:
        return _Lerp(self.i0[sel], self.i1[sel], self.w0[sel], self.w1[sel])

    def apply(self, x: torch.Tensor, dim: int, base: int = 0) -> torch.Tensor:
        shape = [1] * x.ndim
        shape[dim] = -1
        a = x.index_select(dim, self.i0 - base) * self.w0.view(shape)
        a += x.index_select(dim, self.i1 - base) * self.w1.view(shape)
        return a


class ArgmaxWriter:
    """Streams probability slabs (preprocessed grid) into a label map (original grid).

    Args:
        src_shape: spatial shape of the preprocessed image.
        src_affine: its affine (after orientation, resampling and crop).
        dst_shape, dst_affine: the original image's spatial shape and affine.
        dtype: label dtype (``uint8`` below 256 classes).
    """

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
        self.src_len = int(src_shape[2])
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
        la, lb = (self.lerp[t].take(self.keep[t]) for t in range(2))
        c = probs.shape[0]
        per_slice = c * max(len(la.w0), 1) * max(len(lb.w0), 1) * 4
        step = max(1, SLAB_BYTES // per_slice)
        for i in range(0, ready.size, step):
            idx = ready[i : i + step]
            p = self.lerp[2].take(torch.from_numpy(idx)).apply(probs, 3, base)
            p = la.apply(p, 1)
            p = lb.apply(p, 2)
            lab = torch.argmax(p, 0).numpy().astype(self.out.dtype)
            self.view[self.keep[0], self.keep[1], idx] = lab

    def result(self) -> np.ndarray:
        """The label map; every original slice with support must have been written."""
        if self.pending.size:
            raise RuntimeError(f"{self.pending.size} original slice(s) never received data")
        return self.out
