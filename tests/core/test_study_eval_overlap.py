"""A study unit's final evaluation runs at the overlap and precision it is given (``--quick``:
the spec's ``quick.eval_overlap`` and ``eval_amp``), records them, and the time line names them."""

from __future__ import annotations

import pytest

from fdif_core.presets.study import StudyQuick
from fdif_core.studies.study import finetune_unit, quick_amp, time_note


def test_quick_eval_overlap_defaults_to_zero_and_null_means_the_preset():
    assert StudyQuick().eval_overlap == 0.0
    assert StudyQuick(eval_overlap=None).eval_overlap is None
    with pytest.raises(ValueError, match="eval_overlap"):
        StudyQuick(eval_overlap=-0.1)
    assert StudyQuick().eval_amp == "auto"
    with pytest.raises(ValueError, match="eval_amp"):
        StudyQuick(eval_amp="fp8")
    assert quick_amp("bf16", "cpu") == "bf16" and quick_amp("preset", "cpu") is None
    assert quick_amp("auto", "cuda") is None and quick_amp("auto", "cpu") in ("bf16", None)


def test_unit_evaluates_at_the_given_overlap(tmp_path, toy, tiny_finetune, monkeypatch):
    from fdif_core.evaluation import sliding

    seen: list[float] = []
    amps: list[str] = []
    real = sliding.sliding_chunks

    def spy(*args, **kw):
        seen.append(kw["overlap"])
        amps.append(args[1].__self__.amp)  # the bound Predictor.forward
        return real(*args, **kw)

    monkeypatch.setattr(sliding, "sliding_chunks", spy)
    preset = tiny_finetune(iterations=2, val_interval=0, sw_overlap=0.5)
    unit = {"regime": "low", "arm": "scratch", "fold": 0, "seed": 0}
    quick = finetune_unit(unit, preset, None, toy, tmp_path, "cpu", lambda _m: None, 0.0, "bf16")
    n_val = len(quick["val_cases"])
    assert quick["eval_overlap"] == 0.0 and seen == [0.0] * n_val
    assert quick["eval_amp"] == "bf16" and amps == ["bf16"] * n_val
    seen.clear(), amps.clear()
    full = finetune_unit({**unit, "seed": 1}, preset, None, toy, tmp_path, "cpu", lambda _m: None)
    assert full["eval_overlap"] == 0.5 and seen == [0.5] * n_val
    assert full["eval_amp"] == preset.finetune.amp == "off" and amps == ["off"] * n_val
    note = time_note([quick, full])
    assert note.endswith("final evaluation at sliding-window overlap 0, 0.5 in bf16")
    assert time_note([full]).endswith("overlap 0.5")
    assert "overlap" not in time_note([{"wall_s": 1.0, "eval_s": 0.1}])


def test_unit_evaluates_with_the_threads_torch_has(tmp_path, toy, tiny_finetune, monkeypatch):
    """Two or more threads: the forward passes run in two worker threads; one: none."""
    import torch

    from fdif_core.evaluation import sliding

    workers: list[int] = []
    real = sliding.sliding_chunks

    def spy(*args, **kw):
        workers.append(kw["workers"])
        return real(*args, **kw)

    monkeypatch.setattr(sliding, "sliding_chunks", spy)
    preset = tiny_finetune(iterations=2, val_interval=0)
    unit = {"regime": "low", "arm": "scratch", "fold": 0, "seed": 0}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = finetune_unit(unit, preset, None, toy, tmp_path, "cpu", lambda _m: None, 0.0)
        assert workers and set(workers) == {0}
        workers.clear()
        torch.set_num_threads(2)
        two = finetune_unit({**unit, "seed": 1}, preset, None, toy, tmp_path, "cpu",
                            lambda _m: None, 0.0)  # fmt: skip
        assert workers and set(workers) == {2}
    finally:
        torch.set_num_threads(before)
    assert one["val_cases"] == two["val_cases"]


def test_study_evaluates_with_the_threads_it_started_with(tmp_path, toy, monkeypatch):
    """Pre-training on the CPU lowers torch's threads for its DataLoader workers (4 cores,
    1 worker: 3) and gives them back: the study's units still get the number the study
    started with."""
    import torch
    import yaml

    from fdif_core.presets.study import StudySpec
    from fdif_core.studies import study
    from fdif_core.training import pretrain as P

    class Stop(Exception):
        pass

    got: list[int] = []

    def unit(*_args):
        got.append(torch.get_num_threads())
        raise Stop

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(P.os, "sched_getaffinity", lambda _pid: set(range(4)), raising=False)
    monkeypatch.setattr(study, "finetune_unit", unit)
    from tests.core.test_study import spec_dict

    data = spec_dict(str(toy), "finetune/quick", arms=[{"name": "scratch"}, {"name": "fdif",
                     "preset": "quickstart"}])  # fmt: skip
    data["pretrain"] = {**data["pretrain"], "num_workers": 1, "val_volumes": 0}
    spec = StudySpec.model_validate(yaml.safe_load(yaml.safe_dump(data)))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(Stop):
            study.run_study(spec, tmp_path / "out", quick=True, log=lambda _m: None)
    finally:
        torch.set_num_threads(before)
    assert got == [2]
