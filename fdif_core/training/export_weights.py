"""Export pre-trained weights for fine-tuning inside nnU-Net v2.

``nnUNetv2_train D CONFIG FOLD -pretrained_weights FILE`` calls nnU-Net's
``load_pretrained_weights``: it reads ``torch.load(FILE)["network_weights"]`` and requires
every tensor of its network, except those named ``.seg_layers.``, to be present with the
same shape. So the export

- writes ``{"network_weights": state_dict}`` (DDP / ``torch.compile`` prefixes removed);
- for ResEnc-L (and the small plain U-Net) drops the ``seg_layers`` (nnU-Net skips them) and
  writes the nnU-Net plans ``architecture`` block that builds the same network
  (``FILE.plans.json``: paste it into your plans' configuration);
- for Primus-M, whose whole patch decoder depends on the class count, rebuilds the decoder
  for the target class count with a fresh (seeded) initialisation, so nnU-Net's
  ``nnUNet_Primus_M_Trainer`` loads the file: the transformer encoder is transferred, the
  decoder re-initialised.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..io.atomic import write_bytes, write_text

FORMATS = ("nnunet",)
NNUNET_ARCHS = ("resenc_l", "unet_small", "primus_m")
_PREFIXES = ("module.", "_orig_mod.")


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p) :], True
    return key


def _run_settings(state: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, int, int], int]:
    """Model kwargs, patch size and input channels of a pre-training or fine-tuning checkpoint."""
    import yaml

    from ..presets.preset import parse_preset

    if "patch_size" in state:  # fine-tuning checkpoint
        return (
            dict(state.get("model_kwargs") or {}),
            tuple(state["patch_size"]),
            int(state.get("in_channels", 1)),
        )
    preset = parse_preset(yaml.safe_load(state["preset"]), "checkpoint preset")
    return dict(preset.pretrain.model_kwargs), tuple(preset.pretrain.patch_size), 1


def nnunet_architecture(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The nnU-Net v2 plans ``architecture`` block that builds network ``name`` (U-Nets)."""
    from ..networks import NETWORKS

    kw = {**NETWORKS.get(name).defaults, **kwargs}
    feats = [int(f) for f in kw["features_per_stage"]]
    n = len(feats)
    common = {
        "n_stages": n,
        "features_per_stage": feats,
        "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[3, 3, 3]] * n,
        "strides": [[1, 1, 1]] + [[2, 2, 2]] * (n - 1),
    }
    tail = {
        "conv_bias": True,
        "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
        "norm_op_kwargs": {"eps": 1e-05, "affine": True},
        "dropout_op": None,
        "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU",
        "nonlin_kwargs": {"inplace": True},
    }
    if name == "resenc_l":
        cls = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet"
        arch = {
            **common,
            "n_blocks_per_stage": [int(b) for b in kw["n_blocks_per_stage"]],
            "n_conv_per_stage_decoder": [int(b) for b in kw["n_conv_per_stage_decoder"]],
            **tail,
        }
    else:
        cls = "dynamic_network_architectures.architectures.unet.PlainConvUNet"
        arch = {
            **common,
            "n_conv_per_stage": [2] * n,
            "n_conv_per_stage_decoder": [1] * (n - 1),
            **tail,
        }
    return {
        "network_class_name": cls,
        "arch_kwargs": arch,
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def fresh_tensors(
    name: str,
    classes: int,
    patch: tuple[int, int, int],
    kwargs: dict[str, Any],
    in_channels: int,
    keys: set[str],
    seed: int,
) -> dict[str, torch.Tensor]:
    """Freshly initialised tensors ``keys`` of network ``name`` for ``classes`` outputs.

    Only the modules holding ``keys`` are materialised (the network is built on the
    ``meta`` device): PyTorch's default ``reset_parameters``, norm layers at weight 1 and
    bias 0.
    """
    from ..networks import build_network

    with torch.device("meta"):
        net = build_network(name, classes, patch, kwargs, in_channels)
    modules = {k.rsplit(".", 1)[0] for k in keys}
    out: dict[str, torch.Tensor] = {}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for path in sorted(modules):
            mod = net.get_submodule(path).to_empty(device="cpu")
            if hasattr(mod, "reset_parameters"):
                mod.reset_parameters()
            else:
                with torch.no_grad():
                    for pname, p in mod.named_parameters(recurse=False):
                        p.fill_(1.0 if pname == "weight" else 0.0)
            for pname, t in mod.state_dict().items():
                if f"{path}.{pname}" in keys:
                    out[f"{path}.{pname}"] = t.detach().clone()
    missing = keys - set(out)
    if missing:
        raise RuntimeError(f"could not initialise {sorted(missing)[:3]}")
    return out


def export_nnunet(
    checkpoint: str | Path,
    out: str | Path,
    *,
    num_classes: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``out`` for ``nnUNetv2_train ... -pretrained_weights out``.

    Args:
        checkpoint: ``last.pt`` / ``best.pt`` of ``fdif-core pretrain`` (or ``finetune``).
        out: the ``.pth`` file to write; ``out.plans.json`` is written beside it for U-Nets.
        num_classes: nnU-Net's output channels for the target dataset (labels incl.
            background); required for Primus-M, whose decoder depends on it.
        seed: seed of the re-initialised Primus-M decoder.

    Returns:
        A summary: architecture, tensors written, re-initialised, files.
    """
    from ..io.checkpoints import load_checkpoint
    from .transfer import head_keys

    state = load_checkpoint(checkpoint)
    name = str(state.get("model_name", "?"))
    if name not in NNUNET_ARCHS:
        raise UserError(
            f"{checkpoint}: model {name!r} has no nnU-Net counterpart; allowed: "
            f"{', '.join(NNUNET_ARCHS)} (SwinUNETR runs fine-tune with `fdif-core finetune`)"
        )
    if state.get("task") == "classification":
        raise UserError(f"{checkpoint}: a classification pre-training; export a segmentation one")
    weights = {_strip(k): v for k, v in state["model"].items()}
    kwargs, patch, in_ch = _run_settings(state)
    out = Path(out)
    info: dict[str, Any] = {"model": name, "file": str(out), "reinitialised": 0}
    if name == "primus_m":
        if num_classes is None:
            raise UserError(
                "--num-classes: Primus-M's decoder depends on the class count; give the "
                "target dataset's number of labels (background included)"
            )
        head = head_keys(name, patch, kwargs, in_ch)
        fresh = fresh_tensors(name, num_classes, patch, kwargs, in_ch, head, seed)
        weights.update(fresh)
        info["reinitialised"] = len(head)
        info["nnunet_trainer"] = "nnUNet_Primus_M_Trainer"
        info["patch_size"] = list(patch)
    else:
        weights = {k: v for k, v in weights.items() if ".seg_layers." not in k}
        arch = nnunet_architecture(name, kwargs)
        plans = out.with_name(out.name + ".plans.json")
        write_text(plans, json.dumps({"architecture": arch}, indent=2) + "\n")
        info["plans"] = str(plans)
    buf = io.BytesIO()
    torch.save(
        {"network_weights": weights, "fdif": {"model": name, "source": str(checkpoint)}}, buf
    )
    write_bytes(out, buf.getvalue())
    info["tensors"] = len(weights)
    return info
