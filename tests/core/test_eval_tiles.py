"""The study's cheap validation curve: Dice over a fixed sample of foreground patch tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fdif_core.evaluation.tiles import chosen_tiles, tile_dice

PATCH = (8, 8, 8)


def _case(seed: int = 0) -> dict[str, torch.Tensor]:
    """A 3-class label with boxes; the image holds the label values (an oracle can read it)."""
    rng = np.random.default_rng(seed)
    label = np.zeros((40, 36, 20), np.uint8)
    for c in (1, 2):
        lo = rng.integers(0, 20, 3)
        label[lo[0] : lo[0] + 12, lo[1] : lo[1] + 10, lo[2] : lo[2] + 9] = c
    t = torch.as_tensor(label)[None]
    return {"image": t.float(), "label": t}


def _oracle(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(x[:, 0].long(), 3).permute(0, 4, 1, 2, 3).float()


def test_perfect_and_empty_predictions():
    cases = [_case(0), _case(1)]
    assert tile_dice(_oracle, cases, PATCH, 3, windows=5) == pytest.approx(1.0)
    background = lambda x: _oracle(torch.zeros_like(x))  # noqa: E731
    assert tile_dice(background, cases, PATCH, 3, windows=5) == 0.0


def test_known_dice_on_every_tile():
    """With every foreground tile chosen, a prediction that misses one class scores the mean
    of 1 (the class it gets) and 0 (the class it misses)."""
    case = _case(0)
    miss2 = lambda x: _oracle(torch.where(x == 2, torch.zeros_like(x), x))  # noqa: E731
    assert tile_dice(miss2, [case], PATCH, 3, windows=10_000) == pytest.approx(0.5)


def test_tiles_are_fixed_foreground_and_evenly_spread():
    label = _case(0)["label"][0]
    every = chosen_tiles(label, PATCH, 10_000)
    some = chosen_tiles(label, PATCH, 4)
    assert len(some) == 4 and set(some) <= set(every) and some == chosen_tiles(label, PATCH, 4)
    assert some[0] == every[0] and some[-1] == every[-1]
    for s in every:  # each holds foreground, on the stride-patch grid
        assert all(a % p == 0 for a, p in zip(s, PATCH, strict=True))
        assert bool((label[s[0] : s[0] + 8, s[1] : s[1] + 8, s[2] : s[2] + 8] > 0).any())


def test_small_case_is_padded():
    small = {"image": torch.ones(1, 5, 6, 7), "label": torch.ones(1, 5, 6, 7, dtype=torch.uint8)}
    assert tile_dice(_oracle, [small], PATCH, 3, windows=3) == pytest.approx(1.0)


def test_a_case_with_few_tiles_takes_the_full_score():
    """Small cases (no more foreground tiles than asked) are scored by the whole-case Dice."""
    calls = []

    def full(item):
        calls.append(item)
        return np.array([0.25, np.nan])

    case = _case(0)
    n_fg = len(chosen_tiles(case["label"][0], PATCH, 10_000))
    assert tile_dice(_oracle, [case], PATCH, 3, windows=n_fg, full=full) == 0.25
    assert len(calls) == 1
    assert tile_dice(_oracle, [case], PATCH, 3, windows=n_fg - 1, full=full) == 1.0
    assert len(calls) == 1
