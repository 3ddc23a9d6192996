"""``fdif-core pretrain``: bad input gives one line and exit 2; a run prints where things are."""

from __future__ import annotations

import pytest

from fdif_core.cli.main import main


def one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert match in err, err


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"model": "unet_big"}, "unknown network 'unet_big'"),
        (
            {"model": "swinunetr", "model_kwargs": {}, "patch_size": [48, 48, 48]},
            "pretrain.patch_size: swinunetr needs every edge a multiple of 32",
        ),
        ({"iterations": 0}, "pretrain.iterations"),
        ({"warmup_steps": 10}, "must be below iterations"),
        ({"learning_rate": 1}, "pretrain.learning_rate: unknown field"),
        ({"crops_per_volume": 2}, "crops_per_volume was renamed: use augment.crops_per_volume"),
        (
            {"augment": {"intensity_shift": 0.1}},
            "pretrain.augment: intensity_shift was renamed: use shift_intensity",
        ),
        (None, "no pretrain: section"),
    ],
)
def test_bad_presets(tmp_path, capsys, preset_file, fields, match):
    path = preset_file("finetune") if fields is None else preset_file("pretrain", **fields)
    argv = ["pretrain", "--preset", str(path), "--out", str(tmp_path / "r")]
    one_line_error(capsys, argv, match)


def test_run_then_bad_resumes(tmp_path, capsys, preset_file):
    preset = str(preset_file(iterations=2, val_volumes=1, val_interval=2))
    run = tmp_path / "run"
    assert main(["pretrain", "--preset", preset, "--out", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    for what in ("checkpoint:", "log:", "preview:", "last.pt", "preview.png"):
        assert what in out
    other = str(preset_file(iterations=3, val_volumes=1, val_interval=2))
    one_line_error(capsys, ["pretrain", "--preset", other, "--resume", str(run)], "another preset")
    (run / "last.pt").write_bytes(b"not a checkpoint")
    one_line_error(capsys, ["pretrain", "--resume", str(run)], "not a readable checkpoint")
    nope = tmp_path / "nope"
    one_line_error(
        capsys, ["pretrain", "--resume", str(nope)], f"--resume: {nope} holds no last.pt"
    )
