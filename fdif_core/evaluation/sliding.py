"""Sliding-window inference whose output is accumulated and handed over slab by slab.

The same windows (MONAI's ``dense_patch_slices`` at MONAI's scan interval), the same
Gaussian importance map (``compute_importance_map``, sigma 0.125) and the same zero padding
of images smaller than the window as ``monai.inferers.sliding_window_inference(mode=
"gaussian")``; the windows are visited in order of their start along the last axis, and as
soon as no later window reaches a slice, that slice is divided by its weight and yielded.
Only one window's depth of logits is held (``C x n0 x n1 x roi[2]``), never the whole
volume's, so a full-size CT with many classes stays within a few GB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F


def sliding_chunks(
    image: torch.Tensor,
    predictor: Callable[[torch.Tensor], torch.Tensor],
    roi: tuple[int, int, int],
    *,
    overlap: float = 0.5,
    sw_batch_size: int = 2,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, logits)`` with logits ``(C, n0, n1, L)`` of slices ``start .. start+L``
    of ``image`` ``(channels, n0, n1, n2)``, in order, covering the image once.

    ``predictor`` maps a window batch ``(B, channels, *roi)`` on ``device`` to logits
    ``(B, C, *roi)``; the results are accumulated in float32 on the CPU.
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
    depth = roi[2]
    out: torch.Tensor | None = None
    count = torch.zeros((*size[:2], depth))
    lo = 0  # padded index of the buffer's first slice
    lo_keep, hi_keep = pads[2][0], pads[2][0] + shape[2]

    def emit(upto: int) -> Iterator[tuple[int, torch.Tensor]]:
        nonlocal out, count, lo
        n = upto - lo
        if n <= 0 or out is None:
            return
        block = out[..., :n] / count[..., :n]
        a, b = max(lo, lo_keep), min(upto, hi_keep)
        if b > a:
            block = block[:, pads[0][0] : pads[0][0] + shape[0], pads[1][0] : pads[1][0] + shape[1]]
            yield int(a - lo_keep), block[..., a - lo : b - lo]
        out = torch.cat([out[..., n:], torch.zeros_like(out[..., :n])], -1)
        count = torch.cat([count[..., n:], torch.zeros_like(count[..., :n])], -1)
        lo = upto

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(windows), desc="sliding window", unit="win", leave=False)
    rows: dict[int, list] = {}
    for w in windows:
        rows.setdefault(w[2].start, []).append(w)
    try:
        for start, row in rows.items():  # windows starting at one slice, in batches
            yield from emit(start)
            for i in range(0, len(row), sw_batch_size):
                batch = row[i : i + sw_batch_size]
                win = torch.cat([x[(slice(None), *w)][None] for w in batch]).to(device)
                pred = predictor(win).float().cpu()
                if out is None:
                    out = torch.zeros((pred.shape[1], *size[:2], depth))
                for p, w in zip(pred, batch, strict=True):
                    z = slice(w[2].start - lo, w[2].stop - lo)
                    out[:, w[0], w[1], z] += p * weight
                    count[w[0], w[1], z] += weight
                if bar is not None:
                    bar.update(len(batch))
        yield from emit(size[2])
    finally:
        if bar is not None:
            bar.close()
