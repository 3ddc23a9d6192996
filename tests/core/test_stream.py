"""The synthetic stream: deterministic, disjoint across ranks and workers, resumable."""

from __future__ import annotations

import torch

from fdif_core.synthetic.stream import (
    BatchStream,
    StreamConfig,
    SyntheticSource,
    batches,
    train_index,
    val_indices,
)


def test_positions_are_disjoint_across_ranks_and_steps(tiny):
    preset = StreamConfig.of(tiny(batch_size=3))
    src = SyntheticSource(tiny(batch_size=3).recipe(), preset)
    seen: set[int] = set()
    for rank in range(2):
        s = BatchStream(preset, src, rank=rank, world=2)
        for t in range(4):
            pos = s.positions(t)
            assert len(pos) == 3 and not seen & set(pos)
            seen |= set(pos)
    assert seen == set(range(24))


def test_training_never_uses_validation_indices(tiny):
    preset = StreamConfig.of(tiny(val_volumes=3))
    val = set(val_indices(preset))
    assert val == {50, 51, 52}  # right after dataset.num_samples
    assert not val & {train_index(preset, p) for p in range(200)}
    cycled = StreamConfig.of(tiny(num_volumes=5))
    assert {train_index(cycled, p) for p in range(100)} == set(range(5))


def test_batches_are_pure_functions_of_the_step(tiny):
    full = tiny(augment={"crops_per_volume": 2})
    preset = StreamConfig.of(full)
    src = SyntheticSource(full.recipe(), preset)
    a = BatchStream(preset, src).make(5)
    b = BatchStream(preset, src, start=5).make(5)
    assert a.image.shape == (4, 1, 16, 16, 16) and a.target.dtype == torch.int64
    assert torch.equal(a.image, b.image) and torch.equal(a.target, b.target)
    c = BatchStream(preset, src).make(6)
    assert not torch.equal(a.image, c.image)
    assert float(a.image.min()) >= -0.1 - 1e-6 and float(a.image.max()) <= 1.1 + 1e-6  # ±shift
    assert int(a.target.max()) <= 8


def test_worker_processes_give_the_same_stream(tiny):
    full = tiny()
    preset = StreamConfig.of(full)
    src = SyntheticSource(full.recipe(), preset)
    inline = [BatchStream(preset, src, start=2).make(t) for t in range(2, 6)]
    it, close = batches(preset, src, 2, 0, 1, torch.device("cpu"), workers=2)
    try:
        got = [next(it) for _ in range(4)]
    finally:
        close()
    assert [g.indices for g in got] == [x.indices for x in inline]
    assert all(torch.equal(g.image, x.image) for g, x in zip(got, inline, strict=True))


def test_find_pairs_reads_nnunet_layout(tmp_path):
    import json

    import pytest

    from fdif_core.errors import UserError
    from fdif_core.synthetic.stream import find_pairs

    ds = tmp_path / "Dataset501_FDIF"
    for sub in ("imagesTr", "labelsTr"):
        (ds / sub).mkdir(parents=True)
    for i in range(2):
        (ds / "imagesTr" / f"case_{i:05d}_0000.nii.gz").write_bytes(b"")
        (ds / "labelsTr" / f"case_{i:05d}.nii.gz").write_bytes(b"")
    meta = {"channel_names": {"0": "FDIF"}, "labels": {"background": 0, "a": 1},
            "file_ending": ".nii.gz", "numTraining": 2}  # fmt: skip
    (ds / "dataset.json").write_text(json.dumps(meta))
    pairs = find_pairs(tmp_path, num_labels=2)  # the parent folder is enough
    assert [(p.name, q.name) for p, q in pairs] == [
        ("case_00000_0000.nii.gz", "case_00000.nii.gz"),
        ("case_00001_0000.nii.gz", "case_00001.nii.gz"),
    ]
    (ds / "labelsTr" / "case_00001.nii.gz").unlink()
    with pytest.raises(UserError, match=r"case_00001\.nii\.gz is listed"):
        find_pairs(tmp_path, num_labels=2)
    with pytest.raises(UserError, match=r"no dataset\.json"):
        find_pairs(tmp_path / "Dataset501_FDIF" / "imagesTr", num_labels=2)
