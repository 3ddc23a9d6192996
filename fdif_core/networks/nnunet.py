"""nnU-Net's networks: ResEnc-L, Primus-M and a small plain-conv U-Net from
dynamic-network-architectures, the network an nnU-Net trainer builds for a plans file
(``nnunet``), and the glue that imports and queries nnU-Net v2 quietly.

nnU-Net ResEnc-L for a 96³ patch (``resenc_l``) is what nnU-Net's ``nnUNetPlannerResEncL``
writes for a 96³ 3d_fullres patch at isotropic spacing: ``get_pool_and_conv_props`` halves an
edge while it is at least 8 (minimum bottleneck edge 4), so 96 → 48 → 24 → 12 → 6 gives 4
poolings and 5 stages; features ``min(32·2^i, 320)``; encoder blocks (1, 3, 4, 6, 6); one conv
per decoder stage. In dynamic-network-architectures terms: ``ResidualEncoderUNet(n_stages=5,
features_per_stage=(32, 64, 128, 256, 320), kernel_sizes=3, strides=(1, 2, 2, 2, 2),
n_blocks_per_stage=(1, 3, 4, 6, 6), n_conv_per_stage_decoder=(1, 1, 1, 1), conv_bias=True,
norm_op=InstanceNorm3d(eps=1e-5, affine=True), nonlin=LeakyReLU(inplace=True))``. Deep
supervision is off (one full-resolution output), so patch edges must be divisible by 16.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

from ..errors import ArgumentError, UserError, arg
from .catalogue import NetworkSpec, Shape3, lengths_problem, merged_kwargs, register

# --------------------------------------------------------------------------- nnU-Net ResEnc-L
_RESENC_L_DEFAULTS: dict[str, Any] = {
    "n_stages": 5,
    "features_per_stage": (32, 64, 128, 256, 320),
    "n_blocks_per_stage": (1, 3, 4, 6, 6),
    "n_conv_per_stage_decoder": (1, 1, 1, 1),
}


def _build_resenc(in_channels: int, out_channels: int, patch_size: Shape3, **kw: Any):
    import torch.nn as nn
    from dynamic_network_architectures.architectures.unet import ResidualEncoderUNet

    kw = merged_kwargs(_RESENC_L_DEFAULTS, kw, "resenc_l")
    n = int(kw["n_stages"])
    for key in ("features_per_stage", "n_blocks_per_stage"):
        if len(kw[key]) != n:
            raise UserError(f"model_kwargs.{key}: needs {n} entries (n_stages)")
    if len(kw["n_conv_per_stage_decoder"]) != n - 1:
        raise UserError(f"model_kwargs.n_conv_per_stage_decoder: needs {n - 1} entries")
    return ResidualEncoderUNet(
        input_channels=in_channels,
        n_stages=n,
        features_per_stage=list(kw["features_per_stage"]),
        conv_op=nn.Conv3d,
        kernel_sizes=[[3, 3, 3]] * n,
        strides=[[1, 1, 1]] + [[2, 2, 2]] * (n - 1),
        n_blocks_per_stage=list(kw["n_blocks_per_stage"]),
        num_classes=out_channels,
        n_conv_per_stage_decoder=list(kw["n_conv_per_stage_decoder"]),
        **_nnunet_ops(),
    )


def _nnunet_ops() -> dict[str, Any]:
    """nnU-Net's 3D conv-block choices (instance norm, leaky ReLU), no deep supervision."""
    from torch import nn

    return {
        "conv_bias": True,
        "norm_op": nn.InstanceNorm3d,
        "norm_op_kwargs": {"eps": 1e-5, "affine": True},
        "nonlin": nn.LeakyReLU,
        "nonlin_kwargs": {"inplace": True},
        "deep_supervision": False,
    }


def _encode_dna_unet(net: Any, x: Any) -> Any:
    return net.encoder(x)[-1]


register(
    NetworkSpec(
        "resenc_l",
        "nnU-Net ResEnc-L (dynamic-network-architectures ResidualEncoderUNet, 96³ plan)",
        _build_resenc,
        lambda kw: 2 ** (int(kw["n_stages"]) - 1),
        ("encoder",),
        _encode_dna_unet,
        _RESENC_L_DEFAULTS,
        structure=lambda kw: lengths_problem(
            kw,
            ("n_stages", int(kw["n_stages"])),
            features_per_stage=int(kw["n_stages"]),
            n_blocks_per_stage=int(kw["n_stages"]),
            n_conv_per_stage_decoder=int(kw["n_stages"]) - 1,
        ),
        voxel_bytes=lambda kw: 2800.0 * int(kw["features_per_stage"][0]) / 32,
    )
)


# --------------------------------------------------------------------------- Primus-M
_PRIMUS_DEFAULTS: dict[str, Any] = {"patch_embed_size": (8, 8, 8), "drop_path_rate": 0.0}


def _build_primus_m(in_channels: int, out_channels: int, patch_size: Shape3, **kw: Any):
    import warnings

    with warnings.catch_warnings():  # timm's import-time torch.jit notice
        warnings.simplefilter("ignore", FutureWarning)
        from dynamic_network_architectures.architectures.primus import PrimusM

    kw = merged_kwargs(_PRIMUS_DEFAULTS, kw, "primus_m")
    return PrimusM(
        input_channels=in_channels,
        output_channels=out_channels,
        patch_embed_size=tuple(kw["patch_embed_size"]),
        input_shape=tuple(patch_size),
        drop_path_rate=kw["drop_path_rate"],
    )


def _encode_primus(net: Any, x: Any) -> Any:
    tokens = net.down_projection(x).flatten(2).transpose(1, 2)  # (B, N, C)
    tokens, _ = net.eva(tokens)
    return tokens.transpose(1, 2)  # (B, C, N): pooled over the last axis like a feature map


def _primus_divisor(kw: dict[str, Any]) -> int:
    import math

    return math.lcm(*(int(p) for p in kw["patch_embed_size"]))


register(
    NetworkSpec(
        "primus_m",
        "Primus-M (dynamic-network-architectures PrimusM, 8³ patch embedding)",
        _build_primus_m,
        _primus_divisor,
        ("down_projection", "eva"),
        _encode_primus,
        _PRIMUS_DEFAULTS,
        min_factor=1,
        structure=lambda kw: lengths_problem(kw, None, patch_embed_size=3),
        voxel_bytes=lambda kw: 3050.0,
    )
)


# --------------------------------------------------------------------------- small U-Net (CPU)
_UNET_SMALL_DEFAULTS: dict[str, Any] = {"features_per_stage": (16, 32, 64, 128)}


def _build_unet_small(in_channels: int, out_channels: int, patch_size: Shape3, **kw: Any):
    import torch.nn as nn
    from dynamic_network_architectures.architectures.unet import PlainConvUNet

    kw = merged_kwargs(_UNET_SMALL_DEFAULTS, kw, "unet_small")
    feats = list(kw["features_per_stage"])
    n = len(feats)
    return PlainConvUNet(
        input_channels=in_channels,
        n_stages=n,
        features_per_stage=feats,
        conv_op=nn.Conv3d,
        kernel_sizes=[[3, 3, 3]] * n,
        strides=[[1, 1, 1]] + [[2, 2, 2]] * (n - 1),
        n_conv_per_stage=[2] * n,
        num_classes=out_channels,
        n_conv_per_stage_decoder=[1] * (n - 1),
        **_nnunet_ops(),
    )


register(
    NetworkSpec(
        "unet_small",
        "small plain-conv U-Net for CPU runs (4 stages, 16-128 features)",
        _build_unet_small,
        lambda kw: 2 ** (len(kw["features_per_stage"]) - 1),
        ("encoder",),
        _encode_dna_unet,
        _UNET_SMALL_DEFAULTS,
        structure=lambda kw: lengths_problem(
            kw, ("features_per_stage", len(kw["features_per_stage"]))
        ),
        voxel_bytes=lambda kw: 874.0 * int(kw["features_per_stage"][0]) / 16,
    )
)


# --------------------------------------------------------------------------- nnU-Net's own network
_NNUNET_DEFAULTS: dict[str, Any] = {
    "plans": {},
    "dataset_json": {},
    "configuration": "3d_fullres",
    "trainer": "nnUNetTrainer",
}


@contextlib.contextmanager
def nnunet_quiet() -> Iterator[None]:
    """nnU-Net's start-up notices off stdout; timm's import-time FutureWarning off stderr."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def nnunet_module(name: str) -> Any:
    """Import an nnU-Net module quietly (:func:`nnunet_quiet`)."""
    import importlib

    with nnunet_quiet():
        return importlib.import_module(name)


def nnunet_configuration(plans: dict[str, Any], name: str, source: str) -> Any:
    """nnU-Net's ``ConfigurationManager`` of configuration ``name`` (inheritance resolved)."""
    pm = nnunet_module("nnunetv2.utilities.plans_handling.plans_handler").PlansManager(plans)
    names = list(plans.get("configurations", {}))
    if name not in names:
        raise UserError(
            f"{source}: no configuration {name!r}; the plans have: {', '.join(names) or 'none'}"
        )
    cm = pm.get_configuration(name)
    if len(cm.patch_size) != 3:
        raise UserError(f"{source}: configuration {name!r} is 2D; FDIF pre-trains 3D networks")
    return cm


def nnunet_trainer_class(name: str) -> Any:
    """The nnU-Net trainer class ``name``, found the way ``nnUNetv2_train -tr`` finds it."""
    find = nnunet_module("nnunetv2.utilities.find_objects").recursive_find_trainer_class_by_name
    try:
        with nnunet_quiet():
            cls = find(name)
    except Exception:  # nnU-Net raises RuntimeError (older versions: AssertionError)
        cls = None
    if cls is None:
        raise ArgumentError(
            "nnunet_trainer",
            f"no nnU-Net trainer {name!r} (nnunetv2.training.nnUNetTrainer "
            "or $nnUNet_extTrainer); e.g. nnUNetTrainer, nnUNet_Primus_M_Trainer",
        )
    return cls


def nnunet_input_channels(plans: dict[str, Any], cm: Any, dataset_json: dict[str, Any]) -> int:
    """Input channels nnU-Net gives the network for this dataset and configuration."""
    pm = nnunet_module("nnunetv2.utilities.plans_handling.plans_handler").PlansManager(plans)
    mod = nnunet_module("nnunetv2.utilities.label_handling.label_handling")
    return int(mod.determine_num_input_channels(pm, cm, dataset_json))


_NO_PLANS = (
    "model_kwargs: plans is empty; the nnunet network is made by pre-training with "
    f"{arg('nnunet_plans')} PLANS.json"
)


def _nnunet_patch_problem(patch_size: Shape3, kw: dict[str, Any]) -> str | None:
    if not kw.get("plans"):
        return _NO_PLANS
    try:
        cm = nnunet_configuration(kw["plans"], kw["configuration"], "model_kwargs.plans")
    except UserError as err:
        return f"model_kwargs: {err}"
    planned = tuple(int(p) for p in cm.patch_size)
    if tuple(patch_size) != planned:
        return f"patch_size: the nnU-Net plans' patch is {list(planned)}, got {list(patch_size)}"
    return None


def _build_nnunet(in_channels: int, out_channels: int, patch_size: Shape3, **kw: Any):
    """The network nnU-Net's trainer builds for the plans (deep supervision off).

    A one-channel synthetic image is repeated on every input channel of a multi-channel
    target (a forward pre-hook, so the state dict is nnU-Net's).
    """
    kw = merged_kwargs(_NNUNET_DEFAULTS, kw, "nnunet")
    if not kw["plans"]:
        raise UserError(_NO_PLANS)
    plans = kw["plans"]
    from .nnunet_allow import check_plans, check_trainer_name  # before any import

    check_plans(plans, "model_kwargs.plans")
    check_trainer_name(kw["trainer"], "model_kwargs.trainer")
    cm = nnunet_configuration(plans, kw["configuration"], "model_kwargs.plans")
    cls = nnunet_trainer_class(kw["trainer"])
    pm = nnunet_module("nnunetv2.utilities.plans_handling.plans_handler").PlansManager(plans)
    ds = kw["dataset_json"]
    channels = nnunet_input_channels(plans, cm, ds) if ds else in_channels
    with nnunet_quiet():
        net = cls.build_network_architecture(
            pm, cm, channels, out_channels, enable_deep_supervision=False
        )
    if channels != in_channels:
        net.register_forward_pre_hook(_repeat_channels(channels))
    return net


def _repeat_channels(n: int):
    def hook(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        return (x.expand(x.shape[0], n, *x.shape[2:]).contiguous(), *args[1:])

    return hook


def _nnunet_voxel_bytes(kw: dict[str, Any]) -> float:
    """As ``primus_m`` for Primus trainers, else as ``resenc_l`` scaled by the first stage."""
    if "Primus" in str(kw["trainer"]):
        return 3050.0
    config = kw["plans"].get("configurations", {}).get(kw["configuration"], {})
    arch = (config.get("architecture") or {}).get("arch_kwargs", {})
    return 2800.0 * int(arch.get("features_per_stage", [32])[0]) / 32


def _encode_nnunet(net: Any, x: Any) -> Any:
    raise UserError(f"task: classification is not offered for {arg('nnunet_plans')} networks")


register(
    NetworkSpec(
        "nnunet",
        "the network nnU-Net builds for a plans file (fdif-core pretrain --nnunet-plans)",
        _build_nnunet,
        lambda kw: 1,
        (),
        _encode_nnunet,
        _NNUNET_DEFAULTS,
        patch_check=_nnunet_patch_problem,
        voxel_bytes=_nnunet_voxel_bytes,
    )
)
