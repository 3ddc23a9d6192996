"""Sliding-window inference whose output is accumulated and handed over slab by slab.

The same windows (MONAI's ``dense_patch_slices`` at MONAI's scan interval), the same
Gaussian importance map (``compute_importance_map``, sigma 0.125) and the same zero padding
of images smaller than the window as ``monai.inferers.sliding_window_inference(mode=
"gaussian")``; the windows are visited in order of their start along the last axis, and as
soon as no later window reaches a slice, that slice is divided by its weight and yielded.
Only the slices that a window still reaches are held (at most ``C x n0 x n1 x roi[2]``
floats, one tensor per slice, freed when handed on), never the whole volume's logits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

EMIT = 8  # slices handed on at a time


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
    acc: dict[int, torch.Tensor] = {}  # padded slice index -> (C, n0, n1) weighted sum
    cnt: dict[int, torch.Tensor] = {}  # -> (n0, n1) summed weights
    lo = 0  # first slice not yet handed on
    lo_keep, hi_keep = pads[2][0], pads[2][0] + shape[2]
    crop = (slice(pads[0][0], pads[0][0] + shape[0]), slice(pads[1][0], pads[1][0] + shape[1]))

    def emit(upto: int) -> Iterator[tuple[int, torch.Tensor]]:
        """Hand on slices ``lo .. upto`` (complete), at most ``EMIT`` slices at a time."""
        nonlocal lo
        for a in range(lo, upto, EMIT):
            zs = [z for z in range(a, min(a + EMIT, upto)) if lo_keep <= z < hi_keep]
            parts = [(acc.pop(z) / cnt.pop(z))[:, crop[0], crop[1]] for z in zs if z in acc]
            for z in range(a, min(a + EMIT, upto)):
                acc.pop(z, None), cnt.pop(z, None)
            if parts:
                yield zs[0] - lo_keep, torch.stack(parts, -1)
        lo = max(lo, upto)

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
                for p, w in zip(pred, batch, strict=True):
                    pw = p * weight
                    for j, z in enumerate(range(w[2].start, w[2].stop)):
                        if z not in acc:
                            acc[z] = torch.zeros((pred.shape[1], *size[:2]))
                            cnt[z] = torch.zeros(size[:2])
                        acc[z][:, w[0], w[1]] += pw[..., j]
                        cnt[z][w[0], w[1]] += weight[..., j]
                if bar is not None:
                    bar.update(len(batch))
        yield from emit(size[2])
    finally:
        if bar is not None:
            bar.close()
