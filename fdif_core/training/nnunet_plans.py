"""nnU-Net v2 plans: pre-train the network nnU-Net builds for a target, and plans for FDIF nets.

Two directions, both with nnU-Net's own code:

- **pre-train for a target** (``fdif-core pretrain --nnunet-plans PLANS.json``): the network is
  ``Trainer.build_network_architecture(PlansManager(plans), configuration, ...)`` of the
  nnU-Net trainer that will fine-tune it (``nnUNetTrainer``: the plans' architecture, e.g.
  ResEnc-L from ``nnUNetPlannerResEncL``; ``nnUNet_Primus_M_Trainer``: Primus-M at the plans'
  patch size), so its state dict is the one ``nnUNetv2_train -pretrained_weights`` expects,
  by construction. The synthetic scenes are rendered at the plans' patch size and spacing
  (:func:`pretrain_preset`).
- **plans for a fixed network** (``fdif-core export-weights RUN --dataset D``): a run of the
  paper's 96³ ResEnc-L or Primus-M becomes a new plans identifier in the target's
  ``nnUNet_preprocessed`` folder (:func:`plans_for_run`): the target's plans with this
  network's architecture and patch, sharing the target's preprocessed data.

Importing this module pulls in no nnU-Net; functions import it when called.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError, arg
from ..io import untrusted
from ..io.guard import check_identifier, same_path
from ..networks import (
    build_network,
    nnunet_configuration,
    nnunet_input_channels,
    nnunet_module,
    nnunet_trainer_class,
)
from ..networks.nnunet_allow import check_plans, check_trainer_name

Shape3 = tuple[int, int, int]

# the nnU-Net trainer that fine-tunes each preset model, when pre-training for a plans file
DEFAULT_TRAINERS = {
    "resenc_l": "nnUNetTrainer",
    "unet_small": "nnUNetTrainer",
    "primus_m": "nnUNet_Primus_M_Trainer",
}
NNUNET_MODEL = "nnunet"
_NOT_PLANS = {"dataset", "dataset_fingerprint", "splits_final"}


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A plans file or ``dataset.json`` through the untrusted-JSON reader (one line)."""
    return untrusted.read_json(path, what, dict)


# --------------------------------------------------------------------------- a target's plans
@dataclass(frozen=True)
class Target:
    """One configuration of an nnU-Net plans file and the dataset it was planned for."""

    plans: dict[str, Any]
    dataset_json: dict[str, Any]
    configuration: str
    trainer: str
    source: str

    @property
    def manager(self) -> Any:
        return nnunet_configuration(self.plans, self.configuration, self.source)

    @property
    def patch_size(self) -> Shape3:
        return tuple(int(p) for p in self.manager.patch_size)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(s) for s in self.manager.spacing)  # type: ignore[return-value]

    @property
    def plans_name(self) -> str:
        return str(self.plans.get("plans_name", "nnUNetPlans"))

    @property
    def dataset_name(self) -> str:
        return str(self.plans.get("dataset_name", "DATASET"))

    def input_channels(self) -> int:
        return nnunet_input_channels(self.plans, self.manager, self.dataset_json)

    def outputs(self) -> int:
        """Output channels nnU-Net gives the network (``num_segmentation_heads``)."""
        handler = nnunet_module("nnunetv2.utilities.plans_handling.plans_handler")
        pm = handler.PlansManager(self.plans)
        return int(pm.get_label_manager(self.dataset_json).num_segmentation_heads)

    def train_command(self, weights: str | Path, fold: str = "FOLD") -> str:
        """The ``nnUNetv2_train`` line that fine-tunes from ``weights``."""
        tr = "" if self.trainer == "nnUNetTrainer" else f" -tr {self.trainer}"
        p = "" if self.plans_name == "nnUNetPlans" else f" -p {self.plans_name}"
        return (
            f"nnUNetv2_train {self.dataset_name} {self.configuration} {fold}{p}{tr} "
            f"-pretrained_weights {weights}"
        )


def read_target(
    plans_path: str | Path, config: str = "3d_fullres", trainer: str = "nnUNetTrainer"
) -> Target:
    """The target of ``--nnunet-plans``: plans file, its ``dataset.json`` beside it, trainer."""
    path = Path(plans_path)
    plans = read_json(path, "nnU-Net plans file")
    if not isinstance(plans.get("configurations"), dict):
        raise UserError(f"{path}: not an nnU-Net v2 plans file (no 'configurations')")
    check_plans(plans, str(path))
    check_trainer_name(trainer)
    ds_path = path.parent / "dataset.json"
    if not ds_path.exists() and not ds_path.is_symlink():
        raise UserError(
            f"{ds_path}: missing; give the plans file inside $nnUNet_preprocessed/DatasetXXX_Name "
            "(nnUNetv2_plan_and_preprocess writes dataset.json beside it)"
        )
    target = Target(plans, read_json(ds_path, "dataset.json"), config, trainer, str(path))
    check_geometry(target)
    nnunet_trainer_class(trainer)
    _check_builds(target)
    return target


def check_geometry(target: Target) -> None:
    """The configuration's patch and spacing are usable numbers (before any work), and the
    labels of dataset.json are what nnU-Net reads; malformed plans are one line."""
    from ..presets.limits import MAX_VOXELS

    src = f"{target.source} ({target.configuration})"
    try:
        target.manager  # noqa: B018 (checks the configuration)
        patch, spacing = list(target.manager.patch_size), list(target.manager.spacing)
        target.input_channels()
        target.outputs()
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, AssertionError) as err:
        why = f"{type(err).__name__}: {str(err)[:80]}"
        raise UserError(f"{src}: not a usable nnU-Net plans/dataset.json pair ({why})") from None
    if len(patch) != 3 or any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 4096
                              for p in patch):  # fmt: skip
        raise UserError(f"{src}: patch_size {patch!r}: 3 whole numbers in 1..4096 expected")
    voxels = math.prod(patch)
    if voxels > MAX_VOXELS:
        raise UserError(
            f"{src}: patch_size {patch} is {voxels:,} voxels; at most "
            f"{MAX_VOXELS:,} (limits.max_voxels)"
        )
    if len(spacing) != 3 or not all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and 1e-6 <= s <= 1e6
        for s in spacing
    ):
        raise UserError(f"{src}: spacing {spacing!r}: 3 finite numbers in [1e-06, 1e+06] mm")


def _check_builds(target: Target) -> None:
    """The trainer can build its network for the plans (e.g. Primus: patch edges / 8)."""
    import torch

    kw = network_kwargs(target)
    try:
        with torch.device("meta"):
            build_network(NNUNET_MODEL, 2, target.patch_size, kw, section="pretrain")
    except (AssertionError, ValueError, RuntimeError) as err:
        why = _primus_constraint(target) or (
            str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        )
        raise UserError(
            f"{target.source}: {target.trainer} cannot build a network for the "
            f"{target.configuration} patch {list(target.patch_size)} ({why})"
        ) from None


PRIMUS_TOKEN = 8  # nnU-Net's Primus trainers cut the patch into 8 x 8 x 8 tokens


def _primus_constraint(target: Target) -> str | None:
    """Which Primus constraint the patch breaks (its assertion carries no message)."""
    if "primus" not in target.trainer.lower():
        return None
    patch = [int(e) for e in target.patch_size]
    bad = [e for e in patch if e % PRIMUS_TOKEN]
    if not bad:
        return None
    fixed = [-(-e // PRIMUS_TOKEN) * PRIMUS_TOKEN for e in patch]
    return (
        f"Primus cuts the patch into {PRIMUS_TOKEN}³ tokens, so every edge must be a multiple "
        f"of {PRIMUS_TOKEN}; {', '.join(map(str, bad))} is not: set the configuration's "
        f"patch_size in the plans to multiples of {PRIMUS_TOKEN}, e.g. {fixed}"
    )


def network_kwargs(target: Target) -> dict[str, Any]:
    """``pretrain.model_kwargs`` of the ``nnunet`` network for ``target`` (self-contained)."""
    return {
        "plans": target.plans,
        "dataset_json": target.dataset_json,
        "configuration": target.configuration,
        "trainer": target.trainer,
    }


def target_of(kwargs: dict[str, Any]) -> Target:
    """The :class:`Target` stored in an ``nnunet`` network's ``model_kwargs``."""
    if not kwargs.get("plans"):
        raise UserError(
            "pretrain.model_kwargs.plans: empty; the nnunet network is made by "
            f"fdif-core pretrain {arg('nnunet_plans')} PLANS.json"
        )
    return Target(
        kwargs["plans"],
        kwargs.get("dataset_json") or {},
        kwargs["configuration"],
        kwargs["trainer"],
        "pretrain.model_kwargs.plans",
    )


# --------------------------------------------------------------------------- the derived preset
def render_geometry(
    preset_shape: Shape3, patch: Shape3, spacing: tuple[float, float, float]
) -> tuple[Shape3, tuple[float, float, float], float]:
    """Reference shape, its spacing and the volume ratio for rendering at ``patch`` voxels.

    The patch covers ``patch * spacing`` mm. The scene box gets that aspect, with the
    preset's shortest edge ``G`` (object sizes are fractions of ``G``) along the patch's
    shortest physical edge; rendering it at ``patch`` voxels gives each voxel the plans'
    spacing. Returns (reference shape, mm per reference voxel, box volume / preset volume).
    """
    extent = [p * s for p, s in zip(patch, spacing, strict=True)]
    g = min(preset_shape)
    ref = tuple(max(1, round(e / min(extent) * g)) for e in extent)
    mm = tuple(e / r for e, r in zip(extent, ref, strict=True))
    ratio = math.prod(ref) / math.prod(preset_shape)
    return ref, mm, ratio  # type: ignore[return-value]


def pretrain_preset(preset: Any, target: Target) -> Any:
    """``preset`` pre-training nnU-Net's network for ``target`` at its patch size and spacing.

    The scene box takes the patch's physical aspect (:func:`render_geometry`), objects per
    volume scale with the box volume (same density), and every volume is rendered at the
    plans' patch size (``pretrain.render_shape``); the network is ``nnunet`` with the plans
    embedded in ``model_kwargs`` (the run folder's preset.yaml alone rebuilds it).
    """
    from ..presets.preset import parse_preset

    if preset.pretrain.task != "segmentation":
        raise UserError(
            f"{arg('nnunet_plans')}: nnU-Net networks are pre-trained for segmentation only"
        )
    patch = target.patch_size
    ref, mm, ratio = render_geometry(tuple(preset.volume.shape), patch, target.spacing)
    data = preset.model_dump(mode="json")
    data["name"] = f"{preset.name}-{target.dataset_name}-{target.plans_name}"
    data["volume"] = {"shape": list(ref), "spacing": [round(s, 6) for s in mm]}
    data["objects"]["per_volume"] = max(1, round(preset.objects.per_volume * ratio))
    data["pretrain"].update(
        model=NNUNET_MODEL,
        model_kwargs=network_kwargs(target),
        patch_size=list(patch),
        render_shape=list(patch),
    )
    return parse_preset(data, f"{preset.name} for {target.source}")


def default_trainer(model: str) -> str:
    """nnU-Net trainer for a preset's ``pretrain.model`` (refuses networks nnU-Net lacks)."""
    if model == NNUNET_MODEL:
        raise UserError(f"{arg('nnunet_plans')}: the preset is already made for nnU-Net plans")
    if model not in DEFAULT_TRAINERS:
        raise UserError(
            f"{arg('nnunet_plans')}: the preset's model {model!r} has no nnU-Net trainer; use a "
            "ResEnc-L or Primus-M preset (fdif-paper-resencl, fdif-paper-primus) or "
            f"give {arg('nnunet_trainer')}"
        )
    return DEFAULT_TRAINERS[model]


# --------------------------------------------------------------------------- weights for nnU-Net
def nnunet_weights(
    state: dict[str, Any], weights: dict[str, Any], seed: int = 0
) -> tuple[dict[str, Any], int]:
    """``weights`` of an ``nnunet`` run shaped for the target's network; how many were redone.

    Tensors whose shape depends on the class count (outside ``.seg_layers.``, which nnU-Net
    skips; e.g. Primus' patch decoder) are re-initialised for the target's outputs.
    """
    from .export_weights import fresh_tensors

    kw = _run_kwargs(state)
    target = target_of(kw)
    patch, outs = target.patch_size, target.outputs()
    weights = {k: v for k, v in weights.items() if ".seg_layers." not in k}
    body = _shapes(outs, patch, kw)
    redo = {k for k, s in body.items() if k in weights and tuple(weights[k].shape) != s}
    if redo:
        weights.update(fresh_tensors(NNUNET_MODEL, outs, patch, kw, 1, redo, seed))
    return weights, len(redo)


def _shapes(outputs: int, patch: Shape3, kw: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    import torch

    with torch.device("meta"):
        net = build_network(NNUNET_MODEL, outputs, patch, kw)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _run_kwargs(state: dict[str, Any]) -> dict[str, Any]:
    from ..presets.preset import preset_from_text

    preset = preset_from_text(state["preset"], "checkpoint preset")
    return dict(preset.pretrain.model_kwargs)


def run_target(state: dict[str, Any]) -> Target:
    """The nnU-Net target of a checkpoint of ``fdif-core pretrain --nnunet-plans``."""
    return target_of(_run_kwargs(state))


# --------------------------------------------------------------------------- plans for a run
def preprocessed_dir(dataset: str) -> Path:
    """``$nnUNet_preprocessed/DatasetXXX_Name`` for an id (``27``) or a folder name; or the
    preprocessed dataset folder itself (a path holding ``dataset.json``)."""
    given = Path(dataset)
    if given.is_dir() and (given / "dataset.json").is_file():
        return given
    if not dataset.isdigit():  # a folder name under $nnUNet_preprocessed: never a path
        check_identifier(dataset, arg("dataset"))
    root = os.environ.get("nnUNet_preprocessed")  # noqa: SIM112 (nnU-Net's name)
    if not root:
        raise UserError(
            f"{arg('dataset')}: $nnUNet_preprocessed is not set (export it as for nnU-Net)"
        )
    base = Path(root)
    if dataset.isdigit():
        hits = sorted(base.glob(f"Dataset{int(dataset):03d}_*"))
    else:
        hits = [base / dataset] if (base / dataset).is_dir() else []
    if not hits:
        have = ", ".join(sorted(p.name for p in base.glob("Dataset*"))) or "none"
        raise UserError(
            f"{arg('dataset')}: no {dataset} in {base} (run nnUNetv2_plan_and_preprocess first); "
            f"found: {have}"
        )
    return hits[0]


@dataclass(frozen=True)
class RunNetwork:
    """A fixed-architecture pre-training: network name, its kwargs, patch, input channels."""

    name: str
    kwargs: dict[str, Any]
    patch: Shape3
    in_channels: int = 1


def plans_for_run(
    run: RunNetwork,
    dataset_dir: Path,
    source_plans: str = "nnUNetPlans",
    config: str = "3d_fullres",
    plans_name: str | None = None,
    patch: Shape3 | None = None,
) -> Target:
    """The target's plans made to fine-tune ``run``'s network: a new plans identifier.

    A copy of ``source_plans`` holding only ``config``, renamed ``plans_name`` (default
    ``fdif_<network>``), with the run's patch (or ``patch``, conv nets only), its
    architecture (U-Nets; Primus-M is built by ``nnUNet_Primus_M_Trainer``) and the plans'
    batch size (lowered if the patch holds more voxels, never below 2). The preprocessed
    data identifier is kept: nothing is preprocessed again. Refused (one line) when the
    configuration's spacing is anisotropic beyond nnU-Net's threshold (the network pools
    isotropically), when the patch is more than twice the median image along an axis, or
    when the input channels differ.
    """
    from ..networks import NETWORKS

    check_identifier(source_plans, arg("plans"))
    if plans_name is not None:
        check_identifier(plans_name, arg("plans_name"))
    new_name = plans_name or f"fdif_{run.name}"
    if same_path(dataset_dir / f"{new_name}.json", dataset_dir / f"{source_plans}.json"):
        raise UserError(
            f"{arg('plans_name')} {new_name}: would replace the plans file it starts from "
            f"({arg('plans')} {source_plans}); give another name"
        )
    src = dataset_dir / f"{source_plans}.json"
    if not src.exists() and not src.is_symlink():
        have = sorted(p.stem for p in dataset_dir.glob("*.json") if p.stem not in _NOT_PLANS)
        raise UserError(
            f"{arg('plans')} {source_plans}: no {src.name} in {dataset_dir}; plans there: "
            f"{', '.join(have) or 'none (run nnUNetv2_plan_and_preprocess)'}"
        )
    plans = read_json(src, f"nnU-Net plans file ({arg('plans')})")
    if not isinstance(plans.get("configurations"), dict):
        raise UserError(f"{src}: not an nnU-Net v2 plans file (no 'configurations')")
    check_plans(plans, str(src))
    trainer = DEFAULT_TRAINERS[run.name]
    base = Target(
        plans, read_json(dataset_dir / "dataset.json", "dataset.json"), config, trainer, str(src)
    )
    cm = base.manager
    new_patch = _run_patch(run, patch)
    problem = NETWORKS.get(run.name).problem(new_patch, run.kwargs)
    if problem:
        raise UserError(f"{arg('patch')}: {problem}")
    where = f"{arg('dataset')} {dataset_dir.name} ({source_plans} {config})"
    _check_fit(run, base, cm, new_patch, where)
    resolved = copy.deepcopy(cm.configuration)
    resolved["patch_size"] = list(new_patch)
    if run.name != "primus_m":
        from .export_weights import nnunet_architecture

        resolved["architecture"] = nnunet_architecture(run.name, run.kwargs)
    else:
        resolved["architecture"] = copy.deepcopy(resolved.get("architecture"))
    planned_vox = math.prod(int(p) for p in cm.patch_size)
    batch = int(cm.batch_size)
    resolved["batch_size"] = max(2, min(batch, batch * planned_vox // math.prod(new_patch)))
    out = copy.deepcopy(plans)
    out["plans_name"] = plans_name or f"fdif_{run.name}"
    out["configurations"] = {config: resolved}
    out["fdif"] = {"network": run.name, "from_plans": source_plans, "patch_size": list(new_patch)}
    return Target(out, base.dataset_json, config, trainer, str(src))


def _run_patch(run: RunNetwork, patch: Shape3 | None) -> Shape3:
    if patch is None or tuple(patch) == tuple(run.patch):
        return tuple(run.patch)  # type: ignore[return-value]
    if run.name == "primus_m":
        raise UserError(
            f"{arg('patch')}: Primus-M's position embedding fixes its input to the pre-trained "
            f"patch {list(run.patch)}"
        )
    return tuple(int(p) for p in patch)  # type: ignore[return-value]


def _check_fit(run: RunNetwork, target: Target, cm: Any, patch: Shape3, where: str) -> None:
    aniso = nnunet_module("nnunetv2.configuration").ANISO_THRESHOLD
    spacing = [float(s) for s in cm.spacing]
    ratio = max(spacing) / min(spacing)
    redo = (
        f"pre-train for the dataset's own plans instead: fdif-core pretrain {arg('preset')} P "
        f"{arg('nnunet_plans')} {target.source}"
    )
    if ratio > aniso:
        raise UserError(
            f"{where}: spacing {[round(s, 3) for s in spacing]} mm is anisotropic (ratio "
            f"{ratio:.1f} > {aniso}, nnU-Net's threshold) but {run.name} pools all axes alike; "
            + redo
        )
    median = [float(m) for m in cm.median_image_size_in_voxels]
    for axis, (p, m) in enumerate(zip(patch, median, strict=True)):
        if p > 2 * m:
            raise UserError(
                f"{where}: the {run.name} patch {list(patch)} is over twice the median image "
                f"{[round(x) for x in median]} along axis {axis} (mostly padding); " + redo
            )
    channels = target.input_channels()
    if channels != run.in_channels:
        raise UserError(
            f"{where}: the dataset has {channels} input channels, the pre-trained network "
            f"{run.in_channels}; " + redo
        )
