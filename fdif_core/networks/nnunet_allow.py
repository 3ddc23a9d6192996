"""Which classes an nnU-Net plans file may name: an explicit list, checked before import.

nnU-Net builds a network from plans with ``pydoc.locate`` on the configuration's
``architecture.network_class_name`` and on every ``arch_kwargs`` entry listed in
``_kw_requires_import``: a plans file naming ``os.system`` would have it imported and
called. Plans come from outside, so every such name must be one of the architectures of
dynamic-network-architectures that nnU-Net plans (U-Nets, Primus) or one of torch's layer
classes; anything else is refused in one line before anything is imported.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import UserError

_DNA = "dynamic_network_architectures.architectures"
_PRIMUS = ["Primus", "PrimusS", "PrimusB", "PrimusM", "PrimusL", "PrimusX"]
_PRIMUS += [f"PrimusV{v}{s}" for v in (2, 3) for s in ("", "S", "B", "M", "L", "X")]
NETWORK_CLASSES = frozenset(
    {f"{_DNA}.unet.{n}" for n in ("PlainConvUNet", "ResidualEncoderUNet", "ResidualUNet")}
    | {f"{_DNA}.primus.{n}" for n in _PRIMUS}
)
# the short names nnU-Net itself falls back to (it searches dynamic_network_architectures)
NETWORK_CLASSES = NETWORK_CLASSES | {n.rsplit(".", 1)[1] for n in NETWORK_CLASSES}

_LAYERS = (
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "BatchNorm1d", "BatchNorm2d",
    "BatchNorm3d", "GroupNorm", "LayerNorm", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "LeakyReLU", "ReLU", "PReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid", "Identity",
)  # fmt: skip
_LAYER_RE = re.compile(
    r"^torch\.nn\.(?:modules\.(?:conv|instancenorm|batchnorm|normalization|dropout|activation"
    r"|linear)\.)?(" + "|".join(_LAYERS) + r")$"
)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def layer_allowed(name: Any) -> bool:
    """A torch layer class by its dotted name (``torch.nn.modules.conv.Conv3d``)."""
    return isinstance(name, str) and bool(_LAYER_RE.match(name))


def check_architecture(arch: Any, source: str) -> None:
    """One configuration's ``architecture`` names only allowed classes (nothing imported)."""
    if arch is None:
        return
    if not isinstance(arch, dict):
        raise UserError(f"{source}: architecture: a mapping is expected")
    cls = arch.get("network_class_name")
    if cls is not None and cls not in NETWORK_CLASSES:
        raise UserError(
            f"{source}: network_class_name {str(cls)[:80]!r} is not an allowed architecture "
            "(allowed: dynamic_network_architectures' PlainConvUNet, ResidualEncoderUNet, "
            "ResidualUNet and Primus); refused before import"
        )
    kwargs = arch.get("arch_kwargs") or {}
    needs = arch.get("_kw_requires_import") or []
    if not isinstance(kwargs, dict) or not isinstance(needs, list):
        raise UserError(f"{source}: architecture: arch_kwargs / _kw_requires_import malformed")
    for key in needs:
        value = kwargs.get(key) if isinstance(key, str) else None
        if value is not None and not layer_allowed(value):
            raise UserError(
                f"{source}: arch_kwargs.{str(key)[:40]} {str(value)[:80]!r} is not an allowed "
                "layer class (allowed: torch.nn convolutions, norms, dropouts, activations); "
                "refused before import"
            )


def check_plans(plans: Any, source: str) -> None:
    """Every configuration of a plans file names only allowed classes."""
    configs = plans.get("configurations") if isinstance(plans, dict) else None
    if not isinstance(configs, dict):
        return
    for name, cfg in configs.items():
        if isinstance(cfg, dict):
            check_architecture(cfg.get("architecture"), f"{source} ({name})")


def check_trainer_name(name: Any, flag: str = "--nnunet-trainer") -> str:
    """A trainer is looked up by class name inside nnU-Net: a plain identifier only."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UserError(
            f"{flag} {str(name)[:80]!r}: not a trainer class name (letters, digits, _); "
            "e.g. nnUNetTrainer, nnUNet_Primus_M_Trainer"
        )
    return name
