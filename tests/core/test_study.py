"""``fdif-core study``: spec checks, statistics, the whole study at quick size, resume."""

from __future__ import annotations

import csv
import json
import math
import re

import pytest
import yaml
from PIL import Image

from fdif_core.cli.main import main
from fdif_core.presets import PresetError
from fdif_core.presets.study import StudySpec, load_study
from fdif_core.real.toy import write_toy_dataset
from fdif_core.studies.stats import adjust_bh, mean_ci, paired_test
from fdif_core.studies.study import run_study
from fdif_core.studies.study_report import curve_mean


def spec_dict(ds: str, finetune: str, **over) -> dict:
    spec = {
        "version": 1,
        "name": "toy-study",
        "dataset": {"path": ds},
        "folds": [
            {"val": ["toy_000"], "train": ["toy_001", "toy_002", "toy_003"]},
            {"val": ["toy_001"], "train": ["toy_002", "toy_003", "toy_000"]},
            {"val": ["toy_002"], "train": ["toy_003", "toy_000", "toy_001"]},
        ],
        "regimes": {"low": 1, "full": 3},
        "seeds": [0, 1, 2],
        "arms": [
            {"name": "scratch"},
            {"name": "fdif", "preset": "quickstart"},
            {"name": "missing", "preset": "no-such-preset"},
        ],
        "pretrain_shape": [16, 16, 16],
        "pretrain": {
            "model": "unet_small", "model_kwargs": {}, "patch_size": [16, 16, 16],
            "batch_size": 1, "iterations": 50, "warmup_steps": 1, "val_interval": 50,
            "val_volumes": 1, "checkpoint_interval": 50, "num_workers": 0,
        },
        "finetune": finetune,
        "quick": {"pretrain_iterations": 2, "finetune_iterations": 2, "curve_interval": 1,
                  "folds": 2, "seeds": 2},
    }
    spec.update(over)
    return spec


def test_mean_ci_known_values():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0])  # t(0.975, 3) = 3.1824, sem = 0.6455
    assert m == 2.5 and lo == pytest.approx(0.4457, abs=1e-3) and hi == pytest.approx(4.5543, 1e-3)
    assert mean_ci([0.7]) == (0.7, None, None)
    assert mean_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    mb, blo, bhi = mean_ci([0.1, 0.4, 0.35, 0.2, 0.3, 0.25], "bootstrap")
    assert blo < mb < bhi and blo >= 0.1 and bhi <= 0.4
    assert mean_ci([0.1, 0.4, 0.35, 0.2, 0.3, 0.25], "bootstrap") == (mb, blo, bhi)  # seeded


def test_paired_test_known_values():
    base = [0.2, 0.5, 0.3, 0.6, 0.4, 0.1]
    better = [b + s for b, s in zip(base, [0.1, 0.2, 0.05, 0.15, 0.12, 0.08], strict=True)]
    r = paired_test(better, base)
    assert r["n"] == 6 and r["diff"] == pytest.approx(0.1166667)
    assert r["wilcoxon_p"] == pytest.approx(0.03125)  # exact: all 6 signs positive, 2 / 2^6
    assert r["ttest_p"] < 0.01 and r["diff_lo"] > 0
    same = paired_test(base, base)
    assert same["diff"] == 0 and same["wilcoxon_p"] == 1.0 and same["ttest_p"] == 1.0
    assert paired_test([0.3], [0.2])["wilcoxon_p"] is None


def test_bh_adjustment_and_curve_mean_known_values():
    # Benjamini-Hochberg: sorted p (0.01, 0.02, 0.04, 0.5) x m / rank, made monotone
    q = adjust_bh([0.04, None, 0.01, 0.5, 0.02])
    assert q[1] is None
    assert q[2] == pytest.approx(0.04) and q[4] == pytest.approx(0.04)
    assert q[0] == pytest.approx(0.0533333) and q[3] == pytest.approx(0.5)
    assert adjust_bh([None, None]) == [None, None]
    assert curve_mean({"curve": {"20": 0.2, "40": 0.4, "60": 0.9}}) == pytest.approx(0.5)
    assert curve_mean({"curve": {}}) is None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"arms": [{"name": "fdif", "preset": "quickstart"}, {"name": "b", "preset": "x"}]},
         "scratch"),
        ({"regimes": {"big": 4}}, "takes 4 training cases"),
        ({"folds": [{"val": ["toy_000"], "train": ["toy_000"]}]}, "both val and train"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"dataset": {"source": "tptbox-spine", "path": "x"}}, "exactly one"),
        ({"extra": 1}, "unknown field"),
        ({"quick": {"eval_overlap": 1.0}}, "eval_overlap"),
    ],
)  # fmt: skip
def test_bad_specs_are_one_line_errors(tmp_path, change, match):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec_dict("ds", "ft.yaml", **change)))
    with pytest.raises(PresetError, match=match):
        load_study(path)
    assert main(["study", str(path), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_quick_study_end_to_end_and_resume(tmp_path, preset_file):
    ds = write_toy_dataset(tmp_path / "ds", num_cases=4)
    ft = preset_file("finetune", iterations=6)
    spec = StudySpec.model_validate(spec_dict(str(ds), str(ft)))
    out = tmp_path / "study"
    lines: list[str] = []
    summary = run_study(spec, out, quick=True, log=lines.append)
    assert summary["skipped_arms"] == ["missing"]
    assert any("arm missing: skipped" in m for m in lines)
    # the same pre-training budget for every pre-trained arm
    done = json.loads((out / "pretrain" / "fdif" / "done.json").read_text())
    assert done["iterations"] == 2 and done["batch_size"] == 1 and done["wall_s"] > 0
    # 2 arms x 2 regimes x 2 folds x 2 seeds, each with its curve at steps 1 and 2
    results = sorted((out / "results").rglob("*.json"))
    assert len(results) == 16
    for f in results:
        r = json.loads(f.read_text())
        assert r["iterations"] == 2 and sorted(r["curve"]) == ["1", "2"]
        assert r["eval_s"] > 0 and r["empty"] >= 0 and r["eval_overlap"] == 0.0  # quick
        assert r["val_cases"] == [["toy_000"], ["toy_001"]][r["fold"]]
    for regime in ("low", "full"):
        row = summary["regimes"][regime]["fdif"]
        assert row["vs_scratch"]["dice"]["n"] == 4  # paired by fold and seed
        cell = row["metrics"]["mean/dice"]
        assert cell["n"] == 4 and cell["lo"] <= cell["mean"] <= cell["hi"]
    # the low regime trained on one case, the full one on three
    low = json.loads((out / "finetune" / "low" / "fdif" / "fold0_seed0" / "splits_final.json")
                     .read_text())  # fmt: skip
    full = json.loads((out / "data" / "full" / "splits_final.json").read_text())
    assert low[0]["train"] == ["toy_001"] and full[0]["train"] == ["toy_001", "toy_002", "toy_003"]
    # table, CSV and figure read back by their readers
    rows = list(csv.DictReader((out / "study.csv").open()))
    # regimes x arms x ((overall + 2 classes) x 2 metrics + the learning curve's mean)
    assert len(rows) == 2 * 2 * (3 * 2 + 1)
    assert sum(r["metric"] == "curve_mean_dice" for r in rows) == 4
    assert all(0.0 <= float(r["mean"]) <= 1.0 for r in rows)
    assert sum(m.startswith("time: fine-tuning") for m in lines) == 1  # eval vs train time
    assert re.search(r"% of fine-tuning\), final evaluation at sliding-window overlap 0"
                     r"( in bf16)?$", summary["time"])  # fmt: skip
    assert all("evaluation" in m for m in lines if " seed " in m and "Dice" in m)
    md = (out / "study.md").read_text()
    assert md.rstrip().splitlines()[-1] == summary["time"]
    assert "| arm | n | empty |" in md
    assert "| fdif | 4 |" in md and "Wilcoxon" in md and "q (BH)" in md
    overview = md[: md.index("**low**")]  # one row per regime and arm, before the details
    assert overview.count("| low (1 training cases) |") == 2 and "| full (3 training" in overview
    tests = [summary["regimes"][r]["fdif"]["vs_scratch"] for r in ("low", "full")]
    for t in tests:  # BH over the 2 comparisons: q >= p, and the smaller p is at most doubled
        assert t["dice"]["wilcoxon_q"] >= t["dice"]["wilcoxon_p"]
        assert t["curve"]["n"] == 4
    assert min(t["dice"]["wilcoxon_q"] for t in tests) <= 2 * min(
        t["dice"]["wilcoxon_p"] for t in tests
    )
    with Image.open(out / "curves.png") as im:
        assert im.size[0] > 800 and im.size[1] > 300
    # resume: a lost result file is recomputed from its finished run, identically
    lost = out / "results" / "full" / "fdif" / "fold1_seed1.json"
    before = json.loads(lost.read_text())
    lost.unlink()
    lines.clear()
    run_study(spec, out, quick=True, log=lines.append)
    assert not any("pre-training" in m for m in lines)
    assert sum("Dice" in m for m in lines) == 1
    after = json.loads(lost.read_text())
    assert after["mean"] == before["mean"] and after["curve"] == before["curve"]
    # --report: the same table from the finished runs, nothing trained
    lines.clear()
    again = run_study(spec, out, quick=True, report_only=True, log=lines.append)
    assert again["regimes"] == summary["regimes"] and len(lines) == 1


def test_shipped_study_spec_is_valid():
    spec = load_study("studies/spine.yaml")
    assert spec.arms[0].name == "scratch" and len(spec.seeds) >= 3
    quick = spec.quick_version()
    assert quick.pretrain["iterations"] == spec.quick.pretrain_iterations
    assert math.prod(spec.pretrain["patch_size"]) > 0


@pytest.mark.parametrize("kwargs", [None, {"features_per_stage": [4, 8, 16]}])
def test_arm_model_options_stay_with_the_arm_model(tmp_path, kwargs):
    """A study that names another network than an arm's preset does not inherit that preset's
    network options (fdif-paper's SwinUNETR ``feature_size``); its own options apply."""
    from fdif_core.studies.study import arm_preset

    pre = {"model": "unet_small", "patch_size": [16, 16, 16], "batch_size": 1,
           "iterations": 4, "warmup_steps": 1}
    if kwargs is not None:
        pre["model_kwargs"] = kwargs
    spec = StudySpec.model_validate(
        {**spec_dict(str(tmp_path), "finetune/quick"), "pretrain": pre,
         "arms": [{"name": "scratch"}, {"name": "paper", "preset": "fdif-paper"}]})
    preset = arm_preset(spec, spec.arms[1], None)
    assert preset.pretrain.model == "unet_small"
    assert preset.pretrain.model_kwargs == (kwargs or {})
    own = {"model": "swinunetr", "patch_size": [64, 64, 64], "iterations": 4, "warmup_steps": 1}
    same = StudySpec.model_validate(  # the arm's own network: its options are kept
        {**spec.model_dump(), "pretrain": own, "pretrain_shape": [64, 64, 64]})
    assert arm_preset(same, same.arms[1], None).pretrain.model_kwargs == {"feature_size": 48}
