"""Export pre-trained weights for fine-tuning inside nnU-Net v2, with the plans to match.

``nnUNetv2_train D CONFIG FOLD -p PLANS -pretrained_weights FILE`` calls nnU-Net's
``load_pretrained_weights``: it reads ``torch.load(FILE)["network_weights"]`` and requires
every tensor of its network, except those named ``.seg_layers.``, to be present with the
same shape. The export writes ``{"network_weights": state_dict}`` (DDP / ``torch.compile``
prefixes removed, ``seg_layers`` dropped) and

- for a run pre-trained with ``--nnunet-plans`` (network ``nnunet``): nothing else; the
  network is nnU-Net's for those plans by construction;
- for a fixed network (ResEnc-L, the small U-Net, Primus-M) and a target ``--dataset``: a new
  plans identifier in the dataset's ``nnUNet_preprocessed`` folder with this network's
  architecture and patch (:func:`fdif_core.training.nnunet_plans.plans_for_run`).

Tensors whose shape depends on the class count outside ``seg_layers`` (Primus-M's patch
decoder) are re-initialised (seeded) for the target's outputs: the encoder is transferred.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError, arg
from ..io.atomic import write_bytes, write_text

FORMATS = ("nnunet",)
NNUNET_ARCHS = ("nnunet", "resenc_l", "unet_small", "primus_m")
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
    from ..presets.preset import preset_from_text

    if "patch_size" in state:  # fine-tuning checkpoint
        return (
            dict(state.get("model_kwargs") or {}),
            tuple(state["patch_size"]),
            int(state.get("in_channels", 1)),
        )
    preset = preset_from_text(state["preset"], "checkpoint preset")
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
    out: str | Path | None = None,
    *,
    dataset: str | None = None,
    plans: str = "nnUNetPlans",
    configuration: str = "3d_fullres",
    plans_name: str | None = None,
    patch: tuple[int, int, int] | None = None,
    overwrite: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Write weights for ``nnUNetv2_train ... -pretrained_weights`` (and plans if needed).

    Args:
        checkpoint: ``last.pt`` / ``best.pt`` of ``fdif-core pretrain`` (or ``finetune``).
        out: the ``.pth`` to write (default: beside the checkpoint, ``nnunet_weights.pth`` for
            ``--nnunet-plans`` runs, ``nnunet_<Dataset>_<plans>.pth`` otherwise).
        dataset: target nnU-Net dataset (id or ``DatasetXXX_Name`` under
            ``$nnUNet_preprocessed``, or that folder); required for fixed-architecture runs.
        plans, configuration: the target plans identifier and configuration to start from.
        plans_name: the new plans identifier (default ``fdif_<network>``).
        patch: patch size of the new plans (conv nets; default the pre-training patch).
        overwrite: replace an existing ``out`` and a different plans file of that name.
        seed: seed of re-initialised class-dependent tensors.

    Returns:
        A summary: model, file, tensors, re-initialised, plans file, the ``nnUNetv2_train`` line.
    """
    from . import nnunet_plans as nn
    from .transfer import head_keys

    state, name = _exportable(checkpoint)
    if out is not None:  # a bad --out is refused before anything else
        _check_out(out, Path(checkpoint), "", overwrite)
    weights = {_strip(k): v for k, v in state["model"].items()}
    info: dict[str, Any] = {"model": name, "reinitialised": 0}
    if name == nn.NNUNET_MODEL:
        target = nn.run_target(state)
        named = (target.dataset_name, target.dataset_name[7:10].lstrip("0"))
        if dataset is not None and Path(dataset).name.lstrip("0") not in named:
            raise UserError(
                f"{arg('dataset')} {dataset}: this run was pre-trained for {target.dataset_name} "
                f"({target.plans_name}); its weights fit that dataset's plans only"
            )
        out = _check_out(out, Path(checkpoint), "nnunet_weights.pth", overwrite)
        weights, info["reinitialised"] = nn.nnunet_weights(state, weights, seed)
    else:
        if dataset is None:
            raise UserError(
                f"{arg('dataset')}: give the nnU-Net dataset to fine-tune on (id or "
                "DatasetXXX_Name under $nnUNet_preprocessed); the matching plans are written there"
            )
        kwargs, run_patch, in_ch = _run_settings(state)
        ds_dir = nn.preprocessed_dir(dataset)
        target = nn.plans_for_run(
            nn.RunNetwork(name, kwargs, run_patch, in_ch), ds_dir, plans, configuration,
            plans_name, patch,
        )  # fmt: skip
        default = f"nnunet_{ds_dir.name}_{target.plans_name}.pth"
        out = _check_out(out, Path(checkpoint), default, overwrite)
        plans_file = ds_dir / f"{target.plans_name}.json"
        _write_plans(plans_file, target.plans, overwrite)
        info["plans"] = str(plans_file)
        weights = {k: v for k, v in weights.items() if ".seg_layers." not in k}
        if name == "primus_m":
            head = head_keys(name, run_patch, kwargs, in_ch)
            weights.update(
                fresh_tensors(name, target.outputs(), run_patch, kwargs, in_ch, head, seed)
            )
            info["reinitialised"] = len(head)
    buf = io.BytesIO()
    torch.save(
        {"network_weights": weights, "fdif": {"model": name, "source": str(checkpoint)}}, buf
    )
    write_bytes(out, buf.getvalue())
    info.update(file=str(out), tensors=len(weights), command=target.train_command(out))
    return info


def _exportable(checkpoint: str | Path) -> tuple[dict[str, Any], str]:
    """The checkpoint's state and network name; refused unless nnU-Net has that network."""
    from ..io.checkpoints import load_checkpoint

    state = load_checkpoint(checkpoint)
    name = str(state.get("model_name", "?"))
    if name not in NNUNET_ARCHS:
        raise UserError(
            f"{checkpoint}: model {name!r} has no nnU-Net counterpart; allowed: "
            f"{', '.join(NNUNET_ARCHS)} (SwinUNETR runs fine-tune with `fdif-core finetune`)"
        )
    if state.get("task") == "classification":
        raise UserError(f"{checkpoint}: a classification pre-training; export a segmentation one")
    return state, name


def _check_out(out: str | Path | None, checkpoint: Path, default: str, overwrite: bool) -> Path:
    """The ``.pth`` to write: ``out`` or ``default`` beside the checkpoint; new unless
    ``overwrite``, never the checkpoint or another file the run keeps for itself."""
    from ..io.targets import check_new_file

    path = Path(out) if out else checkpoint.parent / default
    if path.resolve() == checkpoint.resolve():
        raise UserError(
            f"{arg('out')} {path}: is the checkpoint being exported; choose another file"
        )
    check_new_file(path, f"{arg('out')}", overwrite)
    return path


def _write_plans(path: Path, plans: dict[str, Any], overwrite: bool) -> None:
    text = json.dumps(plans, indent=4) + "\n"
    if path.exists() and path.read_text() != text and not overwrite:
        raise UserError(
            f"{path}: exists with other contents; give another {arg('plans_name')} or "
            f"{arg('overwrite')}"
        )
    write_text(path, text)
