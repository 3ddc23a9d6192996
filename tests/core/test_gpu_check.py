"""benchmarks/gpu_check.sh runs (on the CPU, tiny sizes) and prints its whole table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--device", "cpu", "--size", "64", "--infer-size", "64", "--render-volumes", "1"]
TINY += ["--steps", "1", "--skip", "0", "--tiny"]


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu():
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_TIMEOUT": "1800"}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), *TINY, "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(run.stdout.strip().splitlines()[-1])
    assert data["device"] == "CPU" and data["size"] == 64
    assert data["render_volumes_per_s"] > 0 and data["render_cpu_volumes_per_s"] > 0
    # the same scene on the same device: identical (the CPU engine is deterministic)
    assert data["render_label_diff_fraction"] == 0 and data["render_image_max_diff"] == 0
    assert data["same_seed_max_loss_diff"] == 0  # CPU fp32: bitwise repeatable runs
    assert 0 <= data["swin_data_wait_fraction"] < 1
    for name in ("swinunetr", "resenc_l", "primus_m"):
        assert data[f"{name}_steps_per_s"] > 0 and data[f"{name}_peak_gib"] is None
    assert data["finetune_step_s"] > 0 and data["sliding_window_s"] > 0


def test_gpu_check_help_lists_its_options():
    run = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert run.returncode == 0
    for flag in ("--device", "--size", "--steps", "--models", "--tiny", "--json"):
        assert flag in run.stdout


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="the refusal is for machines without CUDA"
)
@pytest.mark.parametrize(
    "argv",
    [
        ["bash", "benchmarks/gpu_check.sh"],
        [sys.executable, "benchmarks/pretrain_speed.py", "--device", "cuda"],
    ],
    ids=["gpu_check.sh", "pretrain_speed.py"],
)
def test_cuda_checks_refuse_in_one_line_without_cuda(argv):
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert run.returncode == 2
    err = run.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "needs CUDA" in err and "--device cpu" in err


def test_inference_row_names_the_volume_edge(monkeypatch):
    """The sliding-window row reads '<edge>³ volume' and its time in the measured column."""
    import importlib.util

    import torch

    monkeypatch.syspath_prepend(str(ROOT))
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    table = mod.Table()
    mod.check_finetune(table, torch.device("cpu"), 64, 64, 1, 0, True)
    check, measured, _, _ = table.rows[-1]
    assert check.startswith("sliding-window inference, 64³ volume"), check
    assert measured == f"{table.data['sliding_window_s']:.2f} s"
