"""Networks for pre-training, built from the libraries that define them.

``NETWORKS`` maps a preset's ``pretrain.model`` to a :class:`NetworkSpec`: a builder
``build(in_channels, out_channels, patch_size, **kwargs) -> nn.Module``, a patch-size check,
and the names of the encoder sub-modules a classification head sits on. Importing this module
pulls in no MONAI / dynamic-network-architectures; builders import them when called.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .engine.registry import Registry
from .errors import UserError

Shape3 = tuple[int, int, int]


@dataclass(frozen=True)
class NetworkSpec:
    """How to build one architecture and what input sizes it accepts."""

    name: str
    doc: str
    build: Callable[..., Any]
    divisor: Callable[[dict[str, Any]], int]
    encoder_keys: tuple[str, ...]
    encode: Callable[[Any, Any], Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    min_factor: int = 2  # smallest edge = min_factor x divisor (instance norm needs > 1 voxel)
    patch_check: Callable[[Shape3, dict[str, Any]], str | None] | None = None  # replaces divisor
    structure: Callable[[dict[str, Any]], str | None] = lambda kw: None  # lengths agree...
    # bytes of layer outputs per input voxel and sample (measured with forward hooks on the
    # meta device at the default options), scaled by the options that widen the network
    voxel_bytes: Callable[[dict[str, Any]], float] = lambda kw: 1000.0

    def problem(self, patch_size: Shape3, kwargs: dict[str, Any] | None = None) -> str | None:
        """Why the network cannot take ``patch_size`` inputs with ``kwargs``; None if it can."""
        unknown = sorted(set(kwargs or {}) - set(self.defaults))
        if unknown:
            return (
                f"model_kwargs: unknown option {unknown[0]!r} for {self.name}; "
                f"allowed: {', '.join(sorted(self.defaults))}"
            )
        for key, value in (kwargs or {}).items():
            msg = kwarg_problem(value, self.defaults[key])
            if msg:
                return f"model_kwargs.{key}: {msg}"
        kw = {**self.defaults, **(kwargs or {})}
        if self.patch_check is not None:
            return self.patch_check(patch_size, kw)
        msg = self.structure(kw)
        if msg:
            return f"model_kwargs.{msg}"
        k = self.divisor(kw)
        low = k * self.min_factor
        if any(p % k or p < low for p in patch_size):
            return (
                f"patch_size: {self.name} needs every edge a multiple of {k} "
                f"and at least {low}, got {list(patch_size)}"
            )
        return None

    def check_patch(
        self, patch_size: Shape3, kwargs: dict[str, Any] | None = None, section: str = "pretrain"
    ) -> None:
        """Raise ``UserError`` (naming ``section.field``) if the network cannot take a
        ``patch_size`` input with ``kwargs``."""
        msg = self.problem(patch_size, kwargs)
        if msg:
            raise UserError(f"{section}.{msg}")


NETWORKS: Registry[NetworkSpec] = Registry("network")
MAX_WIDTH = 2048  # channels of a stage (ResEnc-L tops at 320); also caps blocks and heads
MAX_STAGES = 8


def _show(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else repr(v)


def kwarg_problem(value: Any, default: Any) -> str | None:
    """Why ``value`` cannot replace a network option whose default is ``default``."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"must be true or false, got {_show(value)}"
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WIDTH
        return None if ok else f"must be an integer 1..{MAX_WIDTH}, got {_show(value)}"
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
        return None if ok else f"must be a number in [0, 1), got {_show(value)}"
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not value:
            return f"must be a list of integers, got {_show(value)}"
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_WIDTH:
                return f"item {i} must be an integer 1..{MAX_WIDTH}, got {_show(v)}"
    return None


def _lengths(kw: dict[str, Any], stages: tuple[str, int] | None, **need: int) -> str | None:
    """Entries per option agree (``need``); ``stages``: (option, stages) within 2..8."""
    if stages is not None and not 2 <= stages[1] <= MAX_STAGES:
        return f"{stages[0]}: {stages[1]} stage(s); allowed 2..{MAX_STAGES}"
    for key, n in need.items():
        if len(kw[key]) != n:
            return f"{key}: needs {n} entries, got {len(kw[key])}"
    return None


def _register(spec: NetworkSpec) -> NetworkSpec:
    return NETWORKS.add(spec.name, spec)


def _kwargs(spec_defaults: dict[str, Any], overrides: dict[str, Any], name: str) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(spec_defaults))
    if unknown:
        raise UserError(
            f"pretrain.model_kwargs: unknown option {unknown[0]!r} for {name}; "
            f"allowed: {', '.join(sorted(spec_defaults))}"
        )
    return {**spec_defaults, **overrides}


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

    kw = _kwargs(_SWIN_DEFAULTS, kw, "swinunetr")
    return SwinUNETR(in_channels=in_channels, out_channels=out_channels, spatial_dims=3, **kw)


def _swin_structure(kw: dict[str, Any]) -> str | None:
    f = int(kw["feature_size"])
    if f % 12:
        return f"feature_size: must be a multiple of 12, got {f}"
    msg = _lengths(kw, None, depths=4, num_heads=4)
    bad = [i for i, h in enumerate(kw["num_heads"]) if (f << i) % int(h)]
    if not msg and bad:
        msg = f"num_heads: stage {bad[0]} has {f << bad[0]} channels, not divisible by heads"
    return msg


def _encode_swinunetr(net: Any, x: Any) -> Any:
    return net.swinViT(x, True)[-1]


_register(
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

    kw = _kwargs(_RESENC_L_DEFAULTS, kw, "resenc_l")
    n = int(kw["n_stages"])
    for key in ("features_per_stage", "n_blocks_per_stage"):
        if len(kw[key]) != n:
            raise UserError(f"pretrain.model_kwargs.{key}: needs {n} entries (n_stages)")
    if len(kw["n_conv_per_stage_decoder"]) != n - 1:
        raise UserError(f"pretrain.model_kwargs.n_conv_per_stage_decoder: needs {n - 1} entries")
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


_register(
    NetworkSpec(
        "resenc_l",
        "nnU-Net ResEnc-L (dynamic-network-architectures ResidualEncoderUNet, 96³ plan)",
        _build_resenc,
        lambda kw: 2 ** (int(kw["n_stages"]) - 1),
        ("encoder",),
        _encode_dna_unet,
        _RESENC_L_DEFAULTS,
        structure=lambda kw: _lengths(
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

    kw = _kwargs(_PRIMUS_DEFAULTS, kw, "primus_m")
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


_register(
    NetworkSpec(
        "primus_m",
        "Primus-M (dynamic-network-architectures PrimusM, 8³ patch embedding)",
        _build_primus_m,
        _primus_divisor,
        ("down_projection", "eva"),
        _encode_primus,
        _PRIMUS_DEFAULTS,
        min_factor=1,
        structure=lambda kw: _lengths(kw, None, patch_embed_size=3),
        voxel_bytes=lambda kw: 3050.0,
    )
)


# --------------------------------------------------------------------------- small U-Net (CPU)
_UNET_SMALL_DEFAULTS: dict[str, Any] = {"features_per_stage": (16, 32, 64, 128)}


def _build_unet_small(in_channels: int, out_channels: int, patch_size: Shape3, **kw: Any):
    import torch.nn as nn
    from dynamic_network_architectures.architectures.unet import PlainConvUNet

    kw = _kwargs(_UNET_SMALL_DEFAULTS, kw, "unet_small")
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


_register(
    NetworkSpec(
        "unet_small",
        "small plain-conv U-Net for CPU runs (4 stages, 16-128 features)",
        _build_unet_small,
        lambda kw: 2 ** (len(kw["features_per_stage"]) - 1),
        ("encoder",),
        _encode_dna_unet,
        _UNET_SMALL_DEFAULTS,
        structure=lambda kw: _lengths(kw, ("features_per_stage", len(kw["features_per_stage"]))),
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
        raise UserError(
            f"--nnunet-trainer: no nnU-Net trainer {name!r} (nnunetv2.training.nnUNetTrainer "
            "or $nnUNet_extTrainer); e.g. nnUNetTrainer, nnUNet_Primus_M_Trainer"
        )
    return cls


def nnunet_input_channels(plans: dict[str, Any], cm: Any, dataset_json: dict[str, Any]) -> int:
    """Input channels nnU-Net gives the network for this dataset and configuration."""
    pm = nnunet_module("nnunetv2.utilities.plans_handling.plans_handler").PlansManager(plans)
    mod = nnunet_module("nnunetv2.utilities.label_handling.label_handling")
    return int(mod.determine_num_input_channels(pm, cm, dataset_json))


_NO_PLANS = (
    "model_kwargs: plans is empty; the nnunet network is made by "
    "fdif-core pretrain --nnunet-plans PLANS.json"
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
    kw = _kwargs(_NNUNET_DEFAULTS, kw, "nnunet")
    if not kw["plans"]:
        raise UserError(f"pretrain.{_NO_PLANS}")
    plans = kw["plans"]
    from .training.nnunet_allow import check_plans, check_trainer_name  # before any import

    check_plans(plans, "pretrain.model_kwargs.plans")
    check_trainer_name(kw["trainer"], "pretrain.model_kwargs.trainer")
    cm = nnunet_configuration(plans, kw["configuration"], "pretrain.model_kwargs.plans")
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
    def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
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
    raise UserError("pretrain.task: classification is not offered for --nnunet-plans networks")


_register(
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


def training_bytes(
    name: str, patch: Shape3, kwargs: dict[str, Any] | None, samples: int, amp: str = "off"
) -> int:
    """Rough memory of one training step: the layer outputs kept for the backward pass and
    their gradients, for ``samples`` patches (half with bf16/fp16 autocast)."""
    import math

    spec = NETWORKS.get(name)
    per_voxel = spec.voxel_bytes({**spec.defaults, **(kwargs or {})})
    return int(2 * per_voxel * math.prod(patch) * samples * (0.5 if amp != "off" else 1.0))


# --------------------------------------------------------------------------- public builders
def build_network(
    name: str,
    out_channels: int,
    patch_size: Shape3,
    kwargs: dict[str, Any] | None = None,
    in_channels: int = 1,
):
    """Segmentation network ``name`` with ``out_channels`` logits per voxel."""
    spec = NETWORKS.get(name)
    spec.check_patch(patch_size, kwargs)
    return spec.build(in_channels, out_channels, tuple(patch_size), **(kwargs or {}))


def build_classifier(
    name: str,
    num_classes: int,
    patch_size: Shape3,
    kwargs: dict[str, Any] | None = None,
    in_channels: int = 1,
):
    """The encoder of network ``name`` with a global-average-pooling + linear head."""
    seg = build_network(name, 2, patch_size, kwargs, in_channels)
    return attach_classifier(seg, name, num_classes, patch_size, in_channels)


def attach_classifier(
    seg: Any, name: str, num_classes: int, patch_size: Shape3, in_channels: int = 1
):
    """A classifier over the encoder of the segmentation network ``seg`` (shared modules).

    The encoder sub-modules keep the names they have in the segmentation network, so the
    classifier's state dict (minus ``head.*``) loads into it with ``strict=False``.
    """
    import torch
    from torch import nn

    spec = NETWORKS.get(name)

    class EncoderClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            for key in spec.encoder_keys:
                self.add_module(key, getattr(seg, key))
            with torch.no_grad():
                probe = torch.zeros(1, in_channels, *patch_size)
                was = self.training
                self.eval()
                channels = spec.encode(self, probe).shape[1]
                self.train(was)
            self.head = nn.Sequential(nn.LayerNorm(channels), nn.Linear(channels, num_classes))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feat = spec.encode(self, x)
            return self.head(feat.flatten(2).mean(-1))

    return EncoderClassifier()
