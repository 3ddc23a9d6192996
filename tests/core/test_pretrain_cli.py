"""``fdif-core pretrain``: bad input gives one line and exit 2; a run prints where things are."""

from __future__ import annotations

import copy

import pytest
import yaml

from fdif_core.cli.main import main

from .pretrain_presets import TINY


def write(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def edit(**pretrain):
    data = copy.deepcopy(TINY)
    data["pretrain"].update(pretrain)
    return data


def one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert match in err, err


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (edit(model="unet_big"), "unknown network 'unet_big'"),
        (edit(model="swinunetr", model_kwargs={}, patch_size=[48, 48, 48]), "multiple of 32"),
        (edit(iterations=0), "pretrain.iterations"),
        (edit(warmup_steps=10), "must be below iterations"),
        (edit(learning_rate=1), "pretrain.learning_rate: unknown field"),
        ({k: v for k, v in TINY.items() if k != "pretrain"}, "no pretrain: section"),
    ],
)
def test_bad_presets(tmp_path, capsys, data, match):
    argv = ["pretrain", "--preset", write(tmp_path / "p.yaml", data), "--out", str(tmp_path / "r")]
    one_line_error(capsys, argv, match)


def test_run_then_bad_resumes(tmp_path, capsys):
    preset = write(tmp_path / "p.yaml", edit(iterations=2, val_volumes=1, val_interval=2))
    run = tmp_path / "run"
    assert main(["pretrain", "--preset", preset, "--out", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    for what in ("checkpoint:", "log:", "preview:", "last.pt", "preview.png"):
        assert what in out
    other = write(tmp_path / "q.yaml", edit(iterations=3, val_volumes=1, val_interval=2))
    one_line_error(capsys, ["pretrain", "--preset", other, "--resume", str(run)], "another preset")
    (run / "last.pt").write_bytes(b"not a checkpoint")
    one_line_error(capsys, ["pretrain", "--resume", str(run)], "not a readable checkpoint")
    one_line_error(capsys, ["pretrain", "--resume", str(tmp_path / "nope")], "holds no last.pt")
