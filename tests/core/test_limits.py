"""Resource limits: estimates grow with what a run holds; the ceiling is where it says."""

from __future__ import annotations

import pytest

from fdif_core.errors import UserError, arg
from fdif_core.presets import load_preset
from fdif_core.presets.limits import (
    GIB,
    check_memory,
    check_workers,
    estimate,
    max_workers,
    memory_limit,
    render_bytes,
)
from fdif_core.presets.preset import parse_preset


def test_estimate_grows_with_shape_objects_workers_and_cases() -> None:
    p = load_preset("quickstart")
    base = estimate(p, "generate").total
    assert estimate(p, "generate", workers=4).total > base
    assert estimate(p, "generate", shape=(96, 96, 96)).total > base
    assert estimate(p, "generate", cases=100_000).total > base
    assert render_bytes((64, 64, 64), 100) > render_bytes((64, 64, 64), 10)
    assert render_bytes((128, 128, 128), 3) == 8 * render_bytes((64, 64, 64), 3)


def test_memory_ceiling_sources() -> None:
    p = parse_preset({"limits": {"max_memory_gib": 3}})
    assert memory_limit(p) == (3 * GIB, "limits.max_memory_gib")
    assert memory_limit(p, 5.0) == (5 * GIB, arg("max_memory"))  # the CLI: --max-memory
    limit, source = memory_limit(parse_preset({}))
    assert limit > 0 and "80%" in source


def test_a_raised_limit_lets_a_large_run_start() -> None:
    big = {"volume": {"shape": [512, 512, 512]}, "objects": {"per_volume": 300}}
    with pytest.raises(UserError, match="needs about"):
        check_memory(parse_preset(big), "sample")
    ok = check_memory(parse_preset(big), "sample", max_memory_gib=10_000)
    assert ok.total > 10 * GIB
    roomy = parse_preset({**big, "limits": {"max_memory_gib": 10_000}})
    assert check_memory(roomy, "sample").total == ok.total


def test_size_limits_are_raised_by_the_preset() -> None:
    huge = {"volume": {"shape": [1024, 1024, 1024]}}
    with pytest.raises(UserError, match=r"limits\.max_voxels"):
        parse_preset(huge)
    assert parse_preset({**huge, "limits": {"max_voxels": 1024**3}}).volume.shape[0] == 1024


def test_workers_bounded_by_cpus() -> None:
    check_workers(max_workers())
    with pytest.raises(UserError, match=r"allowed 1\.\."):
        check_workers(max_workers() + 1)
    with pytest.raises(UserError):
        check_workers(0)
    check_workers(0, low=0)


def test_shipped_presets_validate_with_their_estimates(capsys: pytest.CaptureFixture[str]) -> None:
    from fdif_core.cli.main import main

    names = ["quickstart", "fdif-paper", "primgeoseg", "finetune/quick", "finetune/btcv"]
    assert main(["presets", "validate", *names]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(names) and all("GiB" in ln for ln in lines)


def test_training_bytes_follow_the_network_on_the_meta_device() -> None:
    """The per-voxel table against the layer outputs of the real network (forward hooks on
    the meta device, no compute): within a factor of 2, and scaling as the table says."""
    import torch

    from fdif_core.networks import build_network, training_bytes

    kw = {"features_per_stage": [8, 16, 32]}
    with torch.device("meta"):
        net = build_network("unet_small", 3, (32, 32, 32), kw)
    outputs = []
    for m in net.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda _m, _i, o: outputs.append(o.numel() * o.element_size()))
    net(torch.empty(2, 1, 32, 32, 32, device="meta"))
    measured = 2 * sum(outputs)  # kept for backward, plus their gradients
    estimate = training_bytes("unet_small", (32, 32, 32), kw, samples=2)
    assert measured / 2 < estimate < measured * 2
    assert training_bytes("unet_small", (64, 64, 64), kw, 2) == 8 * estimate
    assert training_bytes("unet_small", (32, 32, 32), kw, 2, amp="bf16") == estimate // 2
