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
