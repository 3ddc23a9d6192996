"""Weight transfer: every pre-training architecture -> the same one with other classes."""

from __future__ import annotations

import pytest
import torch

from fdif_core.errors import UserError
from fdif_core.networks import build_network
from fdif_core.training.transfer import head_keys, transfer_weights

# (network, patch, kwargs): small settings where the network allows them
ARCHS = [
    ("unet_small", (32, 32, 32), None),
    ("resenc_l", (32, 32, 32), None),
    ("swinunetr", (64, 64, 64), {"feature_size": 12}),
    ("primus_m", (16, 16, 16), None),
]


def _filled(name, classes, patch, kw, value: float) -> torch.nn.Module:
    """The real architecture, every tensor set to ``value`` (no costly random init)."""
    try:
        with torch.device("meta"):
            net = build_network(name, classes, patch, kw)
        net = net.to_empty(device="cpu")
    except RuntimeError:  # SwinUNETR cannot be built on the meta device
        net = build_network(name, classes, patch, kw)
    with torch.no_grad():
        for t in net.state_dict().values():
            t.fill_(value)
    return net


@pytest.mark.parametrize(("name", "patch", "kw"), ARCHS, ids=[a[0] for a in ARCHS])
def test_transfer_loads_everything_but_the_head(name, patch, kw):
    source = _filled(name, 110, patch, kw, 1.0).state_dict()  # FDIF pre-training: 110 labels
    target = _filled(name, 14, patch, kw, 0.0)  # e.g. BTCV: 13 organs + background
    head = head_keys(name, patch, kw)
    report = transfer_weights(target, source, head)
    after = target.state_dict()
    body = [k for k in after if k not in head]
    assert head and report.head == sorted(head)
    assert report.loaded and not report.skipped
    assert set(report.loaded) <= set(body)
    for k in body:
        assert bool((after[k] == 1).all()), k  # copied from the checkpoint
    for k in head:
        assert bool((after[k] == 0).all()), k  # left as initialised
        assert after[k].shape != source[k].shape


def test_head_is_reinitialised_even_with_the_same_class_count():
    torch.manual_seed(0)
    source = build_network("unet_small", 3, (32, 32, 32)).state_dict()
    torch.manual_seed(1)
    target = build_network("unet_small", 3, (32, 32, 32))
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    head = head_keys("unet_small", (32, 32, 32))
    transfer_weights(target, source, head)
    for k in head:
        torch.testing.assert_close(target.state_dict()[k], fresh[k], rtol=0, atol=0)
        assert not torch.equal(fresh[k], source[k])


def test_other_input_channels_skip_the_stem_only():
    source = build_network("unet_small", 110, (32, 32, 32)).state_dict()
    target = build_network("unet_small", 4, (32, 32, 32), in_channels=2)
    report = transfer_weights(target, source, head_keys("unet_small", (32, 32, 32), None, 2))
    assert report.skipped and all("shape" in why for why in report.skipped.values())
    assert len(report.loaded) > 10 * len(report.skipped)


def test_classification_pretraining_fills_the_encoder():
    from fdif_core.networks import NETWORKS, build_classifier

    source = build_classifier("unet_small", 109, (32, 32, 32)).state_dict()
    target = _filled("unet_small", 4, (32, 32, 32), None, 0.0)
    head = head_keys("unet_small", (32, 32, 32))
    scope = NETWORKS.get("unet_small").encoder_keys
    report = transfer_weights(target, source, head, scope=scope)
    after = target.state_dict()
    assert all(k.startswith("encoder.") for k in report.loaded)
    torch.testing.assert_close(
        after["encoder.stages.0.0.convs.0.conv.weight"],
        source["encoder.stages.0.0.convs.0.conv.weight"],
    )
    assert bool((after["decoder.stages.0.convs.0.conv.weight"] == 0).all())


def test_wrong_architecture_is_refused():
    source = build_network("unet_small", 110, (32, 32, 32)).state_dict()
    target = build_network("resenc_l", 4, (32, 32, 32))
    with pytest.raises(UserError, match=r"only \d+ of \d+ tensors match"):
        transfer_weights(target, source, head_keys("resenc_l", (32, 32, 32)), source_name="x.pt")
