"""Sliding-window inference whose output is accumulated and handed over slab by slab.

The same windows (MONAI's ``dense_patch_slices`` at MONAI's scan interval), the same
Gaussian importance map (``compute_importance_map``, sigma 0.125) and the same zero padding
of images smaller than the window as ``monai.inferers.sliding_window_inference(mode=
"gaussian")``. The windows are visited row by row, a row being the windows that start at one
slice of the last axis; before a row starts, every slice below its start is complete (no
later window reaches it), is divided by its weight and handed on. Only the slices that the
current row covers are held (one ``C x n0 x n1 x roi[2]`` float32 buffer, plus the slab being
handed on), never the whole volume's logits; each window is added to the buffer in one
operation (the Gaussian-weighted batch, then one strided add per window).

With ``workers`` threads, the forward passes of the next window batches run in them (a
look-ahead of at most :data:`AHEAD_BYTES` of network outputs) while the caller maps the slabs
handed on and this generator adds the finished batches in window order: the same sums in the
same order, so the same values bit for bit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import torch
import torch.nn.functional as F

EMIT = 8  # slices handed on at a time
AHEAD_BYTES = 256 * 2**20  # network outputs computed ahead by the worker threads, at most


def window_count(shape: tuple[int, ...], roi: tuple[int, int, int], overlap: float) -> int:
    """How many windows :func:`sliding_chunks` runs over a spatial ``shape``."""
    from monai.data.utils import dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    size = tuple(max(int(s), int(r)) for s, r in zip(shape, roi, strict=True))
    return len(dense_patch_slices(size, roi, _get_scan_interval(size, roi, 3, (overlap,) * 3)))


def sliding_chunks(
    image: torch.Tensor,
    predictor: Callable[[torch.Tensor], torch.Tensor],
    roi: tuple[int, int, int],
    *,
    overlap: float = 0.5,
    sw_batch_size: int = 2,
    device: torch.device | str = "cpu",
    progress: bool = False,
    workers: int = 0,
    reuse: bool = False,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, logits)`` with logits ``(C, n0, n1, L)`` of slices ``start .. start+L``
    of ``image`` ``(channels, n0, n1, n2)``, in order, covering the image once.

    ``predictor`` maps a window batch ``(B, channels, *roi)`` on ``device`` to logits
    ``(B, C, *roi)``; the results are accumulated in float32 on the CPU. ``workers``:
    threads calling ``predictor`` on the next batches while the finished ones are
    accumulated, in order, and the caller handles the slabs (0: all in this thread); the
    caller's thread-local modes (``no_grad``, ``autocast``) do not reach them, so
    ``predictor`` sets its own (as :meth:`.evaluate.Predictor.forward` does). ``reuse``:
    every slab is written into one buffer, valid until the next slab is asked for (no new
    allocation, and no page faults, per slab).
    """
    from monai.data.utils import compute_importance_map, dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    roi = tuple(int(r) for r in roi)
    shape = tuple(int(s) for s in image.shape[1:])
    diffs = [max(r - s, 0) for r, s in zip(roi, shape, strict=True)]
    pads = [(d // 2, d - d // 2) for d in diffs]
    x = image.float()
    if any(sum(p) for p in pads):  # as MONAI: pad to the window, cut back afterwards
        x = F.pad(x, [v for p in reversed(pads) for v in p], mode="constant", value=0.0)
    size = tuple(int(s) for s in x.shape[1:])
    interval = _get_scan_interval(size, roi, 3, (overlap,) * 3)
    windows = sorted(dense_patch_slices(size, roi, interval), key=lambda w: w[2].start)
    weight = compute_importance_map(roi, mode="gaussian", sigma_scale=0.125, device="cpu")
    weight = weight.float()
    lo_keep, hi_keep = pads[2][0], pads[2][0] + shape[2]
    crop = (slice(pads[0][0], pads[0][0] + shape[0]), slice(pads[1][0], pads[1][0] + shape[1]))
    acc: torch.Tensor | None = None  # (C, n0, n1, roi[2]): weighted sums of slices base..
    cnt = torch.zeros((*size[:2], roi[2]))  # (n0, n1, roi[2]): summed weights of the same
    base = 0  # padded index of the buffers' first slice (every slice below it was handed on)
    slab: torch.Tensor | None = None  # with ``reuse``: the storage of every slab handed on

    def divided(zs: slice) -> torch.Tensor:
        """Logits of the buffers' slices ``zs``: weighted sums / summed weights."""
        nonlocal slab
        a, w = acc[:, crop[0], crop[1], zs], cnt[None, crop[0], crop[1], zs]
        if not reuse:
            return a / w
        if slab is None:
            slab = torch.empty((*a.shape[:3], EMIT))
        return torch.div(a, w, out=slab.view(-1)[: a.numel()].view(a.shape))

    def emit(upto: int) -> Iterator[tuple[int, torch.Tensor]]:
        """Hand on slices ``base .. upto`` (complete) in slabs of at most ``EMIT`` slices,
        then shift the buffers so that they start at ``upto`` (zeros beyond what is kept)."""
        nonlocal base
        if acc is not None and upto > base:
            for a in range(max(base, lo_keep), min(upto, hi_keep), EMIT):
                zs = slice(a - base, min(a + EMIT, upto, hi_keep) - base)
                yield a - lo_keep, divided(zs)
            shift = upto - base
            keep = max(roi[2] - shift, 0)
            for buf in (acc, cnt):  # in place, in pieces no longer than the shift: no copy
                for i in range(0, keep, shift):
                    j = min(i + shift, keep)
                    buf[..., i:j] = buf[..., i + shift : j + shift]
                buf[..., keep:] = 0
        base = upto

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(windows), desc="sliding window", unit="win", leave=False)
    batches = [  # (first slice of the row, windows), row by row
        (start, row[i : i + sw_batch_size])
        for start, row in _rows(windows).items()
        for i in range(0, len(row), sw_batch_size)
    ]

    def forward(batch: list) -> torch.Tensor:  # in the network's dtype (float() is exact)
        win = torch.stack([x[(slice(None), *w)] for w in batch]).to(device)
        return predictor(win).cpu()

    pool = ThreadPoolExecutor(workers, "sliding-window") if workers > 0 else None
    ahead: deque[Future] = deque()
    limit = 2 * workers  # batches ahead; raised to AHEAD_BYTES once one output's size is known
    try:
        for k, (start, batch) in enumerate(batches):
            if pool is None:
                pred = forward(batch)
            else:
                while len(ahead) < limit and k + len(ahead) < len(batches):
                    ahead.append(pool.submit(forward, batches[k + len(ahead)][1]))
                pred = ahead.popleft().result()
                per = pred.element_size() * pred.numel()
                limit = max(limit, min(AHEAD_BYTES // max(per, 1), len(batches)))
            yield from emit(start)
            if acc is None:
                acc = torch.zeros((pred.shape[1], *size[:2], roi[2]))
            pred = pred.float() * weight  # (B, C, *roi), Gaussian-weighted in one operation
            for p, w in zip(pred, batch, strict=True):
                acc[:, w[0], w[1]] += p
                cnt[w[0], w[1]] += weight
            if bar is not None:
                bar.update(len(batch))
        yield from emit(size[2])
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()


def _rows(windows: list) -> dict[int, list]:
    """Windows grouped by their first slice along the last axis, in order."""
    rows: dict[int, list] = {}
    for w in windows:
        rows.setdefault(w[2].start, []).append(w)
    return rows
