"""Instance norms computed as group norms: the same outputs and parameters, CPU inference."""

from __future__ import annotations

import torch

from fdif_core.evaluation.norms import InstanceAsGroupNorm, instance_norms_as_group_norms
from fdif_core.networks import build_network


def test_unet_small_gives_the_same_logits_with_the_same_state_dict():
    torch.manual_seed(0)
    net = build_network("unet_small", 3, (16, 16, 16)).eval()
    for m in net.modules():  # non-trivial affine parameters
        if isinstance(m, torch.nn.InstanceNorm3d) and m.weight is not None:
            torch.nn.init.normal_(m.weight, 1.0, 0.3), torch.nn.init.normal_(m.bias, 0.0, 0.3)
    x = torch.randn(2, 1, 16, 16, 16) * 5 + 3
    keys = list(net.state_dict())
    with torch.inference_mode():
        before = net(x)
        n = instance_norms_as_group_norms(net)
        after = net(x)
    assert n > 0 and not any(isinstance(m, torch.nn.InstanceNorm3d) for m in net.modules())
    assert list(net.state_dict()) == keys
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)


def test_norms_with_running_statistics_are_left_alone():
    net = torch.nn.Sequential(
        torch.nn.InstanceNorm3d(4, affine=True),
        torch.nn.InstanceNorm3d(4, track_running_stats=True),
        torch.nn.InstanceNorm3d(4),
    )
    assert instance_norms_as_group_norms(net) == 2
    assert [type(m).__name__ for m in net] == [
        "InstanceAsGroupNorm", "InstanceNorm3d", "InstanceAsGroupNorm"
    ]  # fmt: skip
    x = torch.randn(1, 4, 5, 6, 7)
    ref = torch.nn.functional.instance_norm(x, eps=1e-5)
    torch.testing.assert_close(net[2](x), ref, atol=1e-5, rtol=0)
    assert isinstance(net[0], InstanceAsGroupNorm) and net[0].weight is not None
