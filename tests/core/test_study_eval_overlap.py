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
