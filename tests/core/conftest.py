"""Fixtures of the core tests: one torch thread, tiny presets of both training tasks, a toy
dataset, and a ``trainer`` that runs either task through the same calls."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from fdif_core.presets import Preset, parse_preset

TINY_PRETRAIN: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "seed": 3,
    "volume": {"shape": [24, 24, 24]},
    "objects": {"per_volume": 3},
    "classes": {"include": ["basic"]},
    "displacements": {"enabled": ["perlin_fine"]},
    "mappers": {"enabled": ["linear_slope_10.0"]},
    "dataset": {"num_samples": 50},
    "pretrain": {
        "model": "unet_small",
        "model_kwargs": {"features_per_stage": [4, 8, 16]},
        "patch_size": [16, 16, 16],
        "batch_size": 2,
        "iterations": 6,
        "warmup_steps": 1,
        "val_interval": 3,
        "val_volumes": 1,
        "checkpoint_interval": 3,
        "num_workers": 0,
    },
}
TINY_FINETUNE: dict[str, Any] = {
    "model": "unet_small",
    "patch_size": [16, 16, 16],
    "iterations": 4,
    "warmup_steps": 1,
    "val_interval": 2,
    "checkpoint_interval": 2,
    "sw_batch_size": 4,
    "augment": {"crops_per_volume": 1},
    "preprocess": {"cache": "memory"},
}


def preset_data(task: str = "pretrain", /, **section: Any) -> dict[str, Any]:
    """A tiny preset (CPU, seconds) as plain data, ``task``'s section fields overridden."""
    if task == "pretrain":
        data = copy.deepcopy(TINY_PRETRAIN)
        data["pretrain"].update(section)
        # the frame holds the patch (a patch larger than its volume is refused)
        frame, patch = data["volume"]["shape"], data["pretrain"]["patch_size"]
        data["volume"]["shape"] = [max(v, p) for v, p in zip(frame, patch, strict=True)]
        return data
    return {"version": 1, "name": "tiny", "seed": 3, "finetune": {**TINY_FINETUNE, **section}}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test process (the suite runs two processes on two cores)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tiny():
    """``tiny(**pretrain_fields) -> Preset``."""
    return lambda **over: parse_preset(preset_data("pretrain", **over), "tiny")


@pytest.fixture
def tiny_finetune():
    """``tiny_finetune(**finetune_fields) -> Preset``."""
    return lambda **over: parse_preset(preset_data("finetune", **over), "tiny")


@pytest.fixture(scope="session")
def toy(tmp_path_factory) -> Path:
    """A 5-case toy dataset (2 classes) with one test case."""
    from fdif_core.real.toy import write_toy_dataset

    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", num_cases=5, num_test=1)


# the shared tests run both tasks with 6 steps, validation and checkpoints every 3
SHARED = {"iterations": 6, "val_interval": 3, "checkpoint_interval": 3}


@dataclass
class Trainer:
    """Pre-training or fine-tuning behind the same three calls."""

    name: str
    toy: Path

    @property
    def module(self):
        from fdif_core.training import finetune, pretrain

        return pretrain if self.name == "pretrain" else finetune

    def data(self, **over: Any) -> dict[str, Any]:
        return preset_data(self.name, **{**SHARED, **over})

    def preset(self, **over: Any) -> Preset:
        return parse_preset(self.data(**over), "tiny")

    def start(self, preset: Preset, out: Path, **kw: Any):
        if self.name == "pretrain":
            return self.module.pretrain(preset, out, progress=False, **kw)
        return self.module.finetune(self.toy, preset, out, progress=False, **kw)

    def resume(self, run_dir: Path, preset: Preset | None = None, **kw: Any):
        fn = self.module.pretrain if self.name == "pretrain" else self.module.finetune
        return fn(preset=preset, resume=run_dir, progress=False, **kw)

    def argv(self, preset_file: Path, out: Path) -> list[str]:
        """``fdif-core`` arguments of a new run."""
        args = [self.name, "--preset", str(preset_file), "--out", str(out), "--no-progress"]
        return args + (["--dataset", str(self.toy), "--scratch"] if self.name == "finetune" else [])


@pytest.fixture(params=["pretrain", "finetune"])
def trainer(request, toy) -> Trainer:
    return Trainer(request.param, toy)


@pytest.fixture
def preset_file(tmp_path):
    """``preset_file(task, **section_fields) -> Path``: a tiny preset written as YAML."""
    import yaml

    count = [0]

    def write(task: str = "pretrain", /, **over: Any) -> Path:
        count[0] += 1
        path = tmp_path / f"preset{count[0]}.yaml"
        path.write_text(yaml.safe_dump(preset_data(task, **over)))
        return path

    return write


@pytest.fixture
def fake_pretrained():
    """``fake_pretrained(path, name="unet_small", classes=110) -> state dict``: a checkpoint
    shaped like a pre-training run's (seeded weights, 16^3 patch)."""
    from fdif_core.io.checkpoints import save_checkpoint
    from fdif_core.networks import build_network

    def write(path: Path, name: str = "unet_small", classes: int = 110) -> dict:
        torch.manual_seed(11)
        net = build_network(name, classes, (16, 16, 16))
        state = {"model": net.state_dict(), "optimizer": {}, "scheduler": {}, "step": 1,
                 "preset_hash": "x", "model_name": name, "task": "segmentation"}  # fmt: skip
        save_checkpoint(path, state)
        return state["model"]

    return write
