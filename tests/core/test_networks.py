"""The four pre-training networks: forward/backward on the CPU, channels, heads, patch checks."""

from __future__ import annotations

import pytest
import torch

from fdif_core.errors import UserError
from fdif_core.networks import NETWORKS, attach_classifier
from fdif_core.training.pretrain import make_model

# name, smallest input the network takes in training, model_kwargs: the architecture kept,
# widths trimmed where a full-size CPU step costs many seconds (full sizes: test below)
CASES = [
    ("unet_small", (16, 16, 16), {}),
    ("swinunetr", (64, 64, 64), {"feature_size": 12, "depths": (1, 1, 1, 1)}),
    ("resenc_l", (32, 32, 32), {"features_per_stage": (8, 16, 32, 64, 64)}),
    ("primus_m", (16, 16, 16), {}),
]


@pytest.mark.parametrize(("name", "patch", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_forward_backward_segmentation_and_classification(name, patch, kwargs, tiny):
    preset = tiny(model=name, patch_size=patch, model_kwargs=kwargs)
    n_out = len(preset.recipe().label_names)
    assert n_out == 9  # 8 basic classes + background
    net = make_model(preset)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    x = torch.rand(1, 1, *patch)
    y = torch.randint(0, n_out, (1, *patch))
    for _ in range(2 if name == "unet_small" else 1):  # the big ones: one step (CPU time)
        opt.zero_grad()
        out = net(x)
        assert out.shape == (1, n_out, *patch)
        loss = torch.nn.functional.cross_entropy(out, y)
        loss.backward()
        # nnU-Net decoders keep unused deep-supervision heads: most, not all, get gradients
        grads = [p.grad for p in net.parameters()]
        used = [g for g in grads if g is not None]
        assert len(used) >= 0.8 * len(grads)
        assert all(torch.isfinite(g).all() for g in used) and any(g.abs().sum() > 0 for g in used)
        opt.step()
    # classification variant: the same encoder modules under the same names, a pooled head
    cls = attach_classifier(net, name, 8, patch)
    out = cls(x)
    assert out.shape == (1, 8)
    out.sum().backward()
    assert cls.head[1].weight.grad is not None
    seg_state = net.state_dict()
    enc = {k: v for k, v in cls.state_dict().items() if not k.startswith("head.")}
    assert enc and all(k in seg_state and seg_state[k].shape == v.shape for k, v in enc.items())


@pytest.mark.parametrize("name", ["swinunetr", "resenc_l"])
def test_full_size_configurations(name, tiny):
    # paper sizes (SwinUNETR feature size 48; nnU-Net's ResEnc-L plan for 96^3), built only:
    # a forward pass at sizes they accept costs many CPU seconds
    net = make_model(tiny(model=name, patch_size=(96, 96, 96), model_kwargs={}))
    if name == "swinunetr":
        assert net.swinViT.embed_dim == 48
        assert net.out.conv.conv.out_channels == 9
    else:  # 5 stages, (1, 3, 4, 6, 6) residual blocks, 32..320 features
        assert list(net.encoder.output_channels) == [32, 64, 128, 256, 320]
        assert [len(s.blocks) for s in net.encoder.stages] == [1, 3, 4, 6, 6]
        assert net.decoder.seg_layers[-1].out_channels == 9


@pytest.mark.parametrize(
    ("name", "patch", "kwargs", "match"),
    [
        ("swinunetr", (48, 64, 64), {}, "multiple of 32"),
        ("swinunetr", (32, 32, 32), {}, "at least 64"),
        ("resenc_l", (40, 32, 32), {}, "multiple of 16"),
        ("primus_m", (12, 16, 16), {}, "multiple of 8"),
        ("unet_small", (16, 16, 16), {"depth": 3}, "unknown option 'depth'"),
    ],
)
def test_bad_patch_or_kwargs(name, patch, kwargs, match, tiny):
    with pytest.raises(UserError, match=match):
        NETWORKS.get(name).check_patch(patch, kwargs)
    with pytest.raises(UserError, match=match):
        tiny(model=name, patch_size=patch, model_kwargs=kwargs)


def test_unknown_model_suggests(tiny):
    with pytest.raises(UserError, match="Did you mean 'swinunetr'"):
        tiny(model="swinunet")
