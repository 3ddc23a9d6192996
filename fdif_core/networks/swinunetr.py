"""MONAI SwinUNETR, the paper's network (``swinunetr``)."""

from __future__ import annotations

from typing import Any

from .catalogue import NetworkSpec, Shape3, lengths_problem, merged_kwargs, register

# --------------------------------------------------------------------------- SwinUNETR
_SWIN_DEFAULTS: dict[str, Any] = {
    "feature_size": 48,
    "depths": (2, 2, 2, 2),
    "num_heads": (3, 6, 12, 24),
    "dropout_path_rate": 0.0,
    "use_checkpoint": False,
    "use_v2": False,
}


def _build_swinunetr(in_channels: int, out_channels: int, patch_size: Shape3, **kw: Any):
    from monai.networks.nets import SwinUNETR

    kw = merged_kwargs(_SWIN_DEFAULTS, kw, "swinunetr")
    return SwinUNETR(in_channels=in_channels, out_channels=out_channels, spatial_dims=3, **kw)


def _swin_structure(kw: dict[str, Any]) -> str | None:
    f = int(kw["feature_size"])
    if f % 12:
        return f"feature_size: must be a multiple of 12, got {f}"
    msg = lengths_problem(kw, None, depths=4, num_heads=4)
    bad = [i for i, h in enumerate(kw["num_heads"]) if (f << i) % int(h)]
    if not msg and bad:
        msg = f"num_heads: stage {bad[0]} has {f << bad[0]} channels, not divisible by heads"
    return msg


def _encode_swinunetr(net: Any, x: Any) -> Any:
    return net.swinViT(x, True)[-1]


register(
    NetworkSpec(
        "swinunetr",
        "MONAI SwinUNETR (feature size 48, as in the paper); edges: multiples of 32, >= 64",
        _build_swinunetr,
        lambda kw: 32,
        ("swinViT",),
        _encode_swinunetr,
        _SWIN_DEFAULTS,
        structure=_swin_structure,
        voxel_bytes=lambda kw: 8600.0 * int(kw["feature_size"]) / 48,
    )
)
