"""The streamed sliding window: MONAI's values on deep images and at every overlap, streamed."""

from __future__ import annotations

import pytest
import torch

from fdif_core.evaluation.sliding import sliding_chunks, window_count


@pytest.mark.parametrize(
    ("shape", "roi", "overlap"),
    [
        ((1, 10, 9, 70), (8, 8, 8), 0.5),  # many rows along the last axis
        ((1, 10, 9, 70), (8, 8, 8), 0.0),  # no overlap: each slice in one row
        ((1, 12, 7, 41), (8, 6, 6), 0.75),  # rows overlapping three deep
        ((2, 5, 9, 3), (8, 8, 8), 0.0),  # smaller than the window: padded, cut back
    ],
)
def test_streamed_window_equals_monai(shape, roi, overlap):
    from monai.inferers import sliding_window_inference

    torch.manual_seed(0)
    net = torch.nn.Conv3d(shape[0], 3, 3, padding=1)
    x = torch.randn(shape)
    with torch.no_grad():
        ref = sliding_window_inference(x[None], roi, 2, net, overlap=overlap, mode="gaussian")[0]
        parts = list(sliding_chunks(x, net, roi, overlap=overlap, sw_batch_size=2))
    starts = [a for a, _ in parts]
    assert starts[0] == 0 and starts == sorted(starts)
    assert all(
        a + p.shape[-1] == b for (a, p), b in zip(parts, [*starts[1:], shape[-1]], strict=True)
    )
    torch.testing.assert_close(torch.cat([p for _, p in parts], -1), ref, atol=1e-5, rtol=0)


def test_slabs_arrive_before_the_last_window_and_count_matches():
    """Streamed: the first slab is handed on while windows remain; every window runs once."""
    calls: list[int] = []

    def net(w: torch.Tensor) -> torch.Tensor:
        calls.append(w.shape[0])
        return w.repeat(1, 2, 1, 1, 1)

    x = torch.randn(1, 9, 9, 60)
    gen = sliding_chunks(x, net, (8, 8, 8), overlap=0.5, sw_batch_size=3)
    start, first = next(gen)
    assert start == 0 and first.shape[:3] == (2, 9, 9)
    done_then = sum(calls)
    rest = list(gen)
    total = window_count(x.shape[1:], (8, 8, 8), 0.5)
    assert done_then < total == sum(calls)
    assert window_count(x.shape[1:], (8, 8, 8), 0.0) < total
    # a network that copies its input gives the input back (weights cancel)
    out = torch.cat([first, *(p for _, p in rest)], -1)
    torch.testing.assert_close(out, x.repeat(2, 1, 1, 1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_worker_threads_and_one_reused_buffer_give_the_same_slabs_bit_for_bit(workers):
    """Forward passes in worker threads, slabs in one reused buffer: the same values, in the
    same order, as everything in the calling thread with a new tensor per slab."""
    import threading

    torch.manual_seed(0)
    net = torch.nn.Conv3d(1, 3, 3, padding=1)
    x = torch.randn(1, 10, 9, 70)
    callers: set[int] = set()

    def pred(w: torch.Tensor) -> torch.Tensor:
        callers.add(threading.get_ident())
        return net(w)

    with torch.no_grad():
        ref = list(sliding_chunks(x, net, (8, 8, 8), overlap=0.5, sw_batch_size=2))
        got, storage = [], set()
        for a, p in sliding_chunks(
            x, pred, (8, 8, 8), overlap=0.5, sw_batch_size=2, workers=workers, reuse=True
        ):
            storage.add(p.untyped_storage().data_ptr())
            got.append((a, p.clone()))
    assert [a for a, _ in got] == [a for a, _ in ref]
    assert all(torch.equal(p, q) for (_, p), (_, q) in zip(got, ref, strict=True))
    assert len(storage) == 1  # one buffer for every slab
    assert threading.get_ident() not in callers and 1 <= len(callers) <= workers


def test_worker_threads_look_ahead_a_bounded_number_of_batches(monkeypatch):
    """Memory: the workers run at most ``AHEAD_BYTES`` of outputs (at least 2 batches per
    worker) ahead of the slab the caller holds; an error in a worker reaches the caller."""
    from fdif_core.evaluation import sliding

    monkeypatch.setattr(sliding, "AHEAD_BYTES", 1)
    calls: list[int] = []

    def net(w: torch.Tensor) -> torch.Tensor:
        calls.append(w.shape[0])
        return w.repeat(1, 2, 1, 1, 1)

    x = torch.randn(1, 16, 16, 40)
    gen = sliding_chunks(x, net, (8, 8, 8), overlap=0.0, sw_batch_size=1, workers=2)
    next(gen)  # the first row (4 windows) is done; its slab is handed on
    assert len(calls) <= 4 + 2 * 2
    rest = list(gen)
    assert len(calls) == window_count(x.shape[1:], (8, 8, 8), 0.0) and rest

    def broken(w: torch.Tensor) -> torch.Tensor:
        raise ValueError("the network failed")

    with pytest.raises(ValueError, match="the network failed"):
        list(sliding_chunks(x, broken, (8, 8, 8), overlap=0.0, workers=2))
