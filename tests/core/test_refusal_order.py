"""Refusals come in the order a user fixes things: missing inputs first, then sizes/limits.

Every case below would also break the memory limit (--max-memory 0.1 GiB); the line must
name the missing input, not the memory.
"""

from __future__ import annotations

from fdif_core.cli import main


def refusal(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "memory" not in err, err
    return err


def test_finetune_missing_weights_before_memory(toy, tmp_path, capsys):
    argv = ["finetune", "--dataset", str(toy), "--preset", "btcv", "--fold", "0",
            "--weights", str(tmp_path / "none.pt"), "--out", str(tmp_path / "run"),
            "--max-memory", "0.1"]  # fmt: skip
    err = refusal(argv, capsys)
    assert "none.pt" in err and "no checkpoint" in err


def test_pretrain_missing_data_before_memory(tmp_path, capsys):
    argv = ["pretrain", "--preset", "fdif-paper", "--out", str(tmp_path / "run"),
            "--data", str(tmp_path / "nope"), "--max-memory", "0.1"]  # fmt: skip
    err = refusal(argv, capsys)
    assert "--data" in err and "not a folder" in err


def test_memory_still_refused_when_inputs_exist(toy, tmp_path, capsys):
    argv = ["finetune", "--dataset", str(toy), "--preset", "btcv", "--fold", "0", "--scratch",
            "--out", str(tmp_path / "run"), "--max-memory", "0.1"]  # fmt: skip
    assert main(argv) == 2
    assert "memory" in capsys.readouterr().err


def test_finetune_missing_dataset_before_memory(tmp_path, capsys):
    argv = ["finetune", "--dataset", str(tmp_path / "absent"), "--preset", "btcv", "--fold", "0",
            "--scratch", "--out", str(tmp_path / "run"), "--max-memory", "0.1"]  # fmt: skip
    err = refusal(argv, capsys)
    assert "absent" in err and "no such dataset" in err and "--dataset" in err
