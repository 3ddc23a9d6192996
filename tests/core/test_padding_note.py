"""Volumes smaller than the patch: one note, the same words for pre-training and fine-tuning."""

from __future__ import annotations

from types import SimpleNamespace

from fdif_core.real.checks import padding_note
from fdif_core.real.patches import padding_note as cases_note


def test_note_counts_the_small_volumes_and_names_the_least_shape():
    shapes = [(40, 40, 40), (30, 50, 40), (40, 20, 40)]
    note = padding_note(shapes, (32, 32, 32), 4, "volume(s)")
    assert note == (
        "note: 2 of 4 volume(s) are smaller than the patch (32, 32, 32) "
        "(down to (30, 20, 40)); they are zero-padded to it"
    )
    assert padding_note(shapes[:1], [32, 32, 32], 1, "volume(s)") is None


def test_fine_tuning_cases_use_the_recorded_shapes():
    cases = SimpleNamespace(spatial_shapes=[(16, 64, 64), (64, 64, 64)])
    assert cases_note(cases, (32, 32, 32)) == (
        "note: 1 of 2 preprocessed case(s) are smaller than the patch (32, 32, 32) "
        "(down to (16, 64, 64)); they are zero-padded to it"
    )
    assert cases_note(SimpleNamespace(), (32, 32, 32)) is None  # cache: none records none
