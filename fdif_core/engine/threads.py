"""Torch's CPU threads for a block of work, given back after it: one thread is what a
generate worker process runs with (the same bytes), and many times faster than many
threads for small tensors on a busy CPU."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """``n`` torch CPU threads inside the block, the caller's number after it (None: no
    change)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_torch_thread(device: str | torch.device = "cpu") -> Iterator[None]:
    """One torch thread inside the block when ``device`` is the CPU (others: unchanged)."""
    return torch_threads(1 if torch.device(device).type == "cpu" else None)
