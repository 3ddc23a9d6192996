"""The network catalogue: ``NETWORKS`` maps a preset's ``model`` to a :class:`NetworkSpec`.

A spec holds a builder ``build(in_channels, out_channels, patch_size, **kwargs) -> nn.Module``,
a patch-size check, the option defaults and checks, and the names of the encoder sub-modules a
classification head sits on. The families register themselves from their own modules
(``swinunetr``, ``nnunet``); builders import MONAI / dynamic-network-architectures / nnU-Net
only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine.registry import Registry
from ..errors import ArgumentError, UserError

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
        self, patch_size: Shape3, kwargs: dict[str, Any] | None = None, section: str = ""
    ) -> None:
        """Raise ``UserError`` (naming ``section.field``, or ``field`` without a section) if
        the network cannot take a ``patch_size`` input with ``kwargs``."""
        msg = self.problem(patch_size, kwargs)
        if msg:
            raise UserError(in_section(section, msg))


def in_section(section: str, message: str) -> str:
    """``message`` (naming a field such as ``model_kwargs.x``) under a preset section."""
    return f"{section}.{message}" if section else message


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


def lengths_problem(kw: dict[str, Any], stages: tuple[str, int] | None, **need: int) -> str | None:
    """Entries per option agree (``need``); ``stages``: (option, stages) within 2..8."""
    if stages is not None and not 2 <= stages[1] <= MAX_STAGES:
        return f"{stages[0]}: {stages[1]} stage(s); allowed 2..{MAX_STAGES}"
    for key, n in need.items():
        if len(kw[key]) != n:
            return f"{key}: needs {n} entries, got {len(kw[key])}"
    return None


def register(spec: NetworkSpec) -> NetworkSpec:
    """Add a family's spec to ``NETWORKS`` (called at import by its module)."""
    return NETWORKS.add(spec.name, spec)


def merged_kwargs(
    spec_defaults: dict[str, Any], overrides: dict[str, Any], name: str
) -> dict[str, Any]:
    """The options ``overrides`` laid over a family's defaults (unknown ones refused)."""
    unknown = sorted(set(overrides) - set(spec_defaults))
    if unknown:
        raise UserError(
            f"model_kwargs: unknown option {unknown[0]!r} for {name}; "
            f"allowed: {', '.join(sorted(spec_defaults))}"
        )
    return {**spec_defaults, **overrides}


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
    section: str = "",
):
    """Segmentation network ``name`` with ``out_channels`` logits per voxel; bad options
    are reported under the preset ``section`` they came from (``pretrain``, ``finetune``)."""
    spec = NETWORKS.get(name)
    spec.check_patch(patch_size, kwargs, section)
    try:
        return spec.build(in_channels, out_channels, tuple(patch_size), **(kwargs or {}))
    except ArgumentError:
        raise
    except UserError as err:
        raise UserError(in_section(section, err.raw)) from None


def build_classifier(
    name: str,
    num_classes: int,
    patch_size: Shape3,
    kwargs: dict[str, Any] | None = None,
    in_channels: int = 1,
    section: str = "",
):
    """The encoder of network ``name`` with a global-average-pooling + linear head."""
    seg = build_network(name, 2, patch_size, kwargs, in_channels, section)
    try:
        return attach_classifier(seg, name, num_classes, patch_size, in_channels)
    except UserError as err:
        raise UserError(in_section(section, err.raw)) from None


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
