"""``fdif-core pretrain``: pre-train a network on formula-driven data from a preset."""

from __future__ import annotations

import argparse

from ._common import add_device, add_max_memory, add_preset, int_in, path, workers_max

NAME = "pretrain"
ORDER = 40
OUTPUTS = {"out": "run"}  # checked by fdif_core.io.guard before run()
INPUTS = ("preset", "resume", "data", "nnunet_plans")
IDENTIFIERS = ("nnunet_trainer",)
HELP = "pre-train the preset's network on on-the-fly FDIF data (resumable; torchrun for DDP)"
DESCRIPTION = (
    "Pre-train the network of the preset's pretrain: section on an endless stream of synthetic "
    "volumes (or on a dataset from `fdif-core generate` with --data). Writes OUT/last.pt, "
    "best.pt, log.jsonl, tb/ (TensorBoard) and preview.png. Ctrl-C or SIGTERM saves last.pt "
    "at the current step and prints the command that resumes (exit 130; 143 for SIGTERM). "
    "Multi-GPU: "
    "torchrun --nproc_per_node N -m fdif_core pretrain --preset P --out OUT --device cuda. "
    "With --nnunet-plans, the network is the one nnU-Net builds for that plans file (ResEnc-L "
    "plans of nnUNetPlannerResEncL; Primus-M with a Primus preset), the scenes are rendered "
    "at the plans' patch size and spacing, and OUT/nnunet_weights.pth is written for "
    "nnUNetv2_train -pretrained_weights."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p, required=False)
    p.add_argument("--out", metavar="DIR", type=path, help="new (or empty) run folder")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        type=path,
        help="continue the run in RUN_DIR from its last checkpoint",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        type=path,
        help="train on a dataset made by `fdif-core generate` instead",
    )
    p.add_argument(
        "--workers",
        type=int_in(0, workers_max),
        metavar="N",
        help="DataLoader workers rendering on the CPU, 0..4 x CPUs (default: the preset's "
        "num_workers)",
    )
    p.add_argument(
        "--max-steps",
        type=int_in(1),
        metavar="N",
        help="stop after N steps in this call (checkpointed; continue with --resume)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    add_max_memory(p)
    nn = p.add_argument_group("nnU-Net target (pre-train the network nnU-Net will fine-tune)")
    nn.add_argument(
        "--nnunet-plans",
        metavar="PLANS.json",
        help="a plans file in $nnUNet_preprocessed/DatasetXXX_Name (dataset.json beside it)",
    )
    nn.add_argument(
        "--configuration", default="3d_fullres", metavar="C", help="default: 3d_fullres"
    )
    nn.add_argument(
        "--nnunet-trainer",
        metavar="NAME",
        help="the nnU-Net trainer that builds the network (default: nnUNetTrainer, "
        "nnUNet_Primus_M_Trainer for a primus_m preset)",
    )


KEEP = ("--data", "--workers", "--device", "--no-progress")  # flags a resume repeats


def run(args: argparse.Namespace) -> int:
    import os

    from ...errors import UserError
    from ...presets import load_preset
    from ...training.pretrain import pretrain
    from ._common import check_counts, check_training_memory, run_training, training_kwargs

    if args.resume and args.out:
        raise UserError("--resume and --out: give one (a run resumes in its own folder)")
    if not args.resume and not (args.preset and args.out):
        raise UserError("pretrain: give --preset P --out DIR, or --resume RUN_DIR")
    check_counts(args)
    preset = None
    if args.out:
        from pathlib import Path

        from ...io.targets import check_run_out

        check_run_out(Path(args.out))
    if args.preset:
        preset = load_preset(args.preset)
        if "pretrain" not in preset.model_fields_set:
            raise UserError(
                f"{args.preset}: no pretrain: section; add one (see presets/quickstart.yaml)"
            )
    if args.nnunet_plans:
        if preset is None:
            raise UserError("--nnunet-plans: give it with --preset P --out DIR (not --resume)")
        preset = for_nnunet(preset, args)
    if preset is not None:
        check_training_memory(NAME, preset, args.workers, args)
    kwargs = training_kwargs(args)
    done = []

    def train():
        done.append(pretrain(preset, args.out, data=args.data, **kwargs))
        return done[-1]

    code = run_training(NAME, args, KEEP, train)
    if done and int(os.environ.get("RANK", "0")) == 0:
        _nnunet_export(done[-1])
    return code


def for_nnunet(preset, args: argparse.Namespace):
    """The preset re-made for the nnU-Net plans of ``--nnunet-plans`` (network, patch, scene)."""
    from ...training import nnunet_plans as nn

    trainer = args.nnunet_trainer or nn.default_trainer(preset.pretrain.model)
    target = nn.read_target(args.nnunet_plans, args.configuration, trainer)
    out = nn.pretrain_preset(preset, target)
    vol = out.volume
    print(
        f"nnU-Net target {target.dataset_name} {target.plans_name} {target.configuration} "
        f"({trainer}): patch {list(target.patch_size)} at {list(target.spacing)} mm; "
        f"scene box {list(vol.shape)} x {vol.spacing[0]:.3g} mm, "
        f"{out.objects.per_volume} objects per volume"
    )
    return out


def _nnunet_export(res) -> None:
    """After a run of the ``nnunet`` network: its nnU-Net weights file and training line."""
    from ...presets import load_preset
    from ...training.export_weights import export_nnunet

    ckpt, saved = res.run_dir / "last.pt", res.run_dir / "preset.yaml"
    if not (ckpt.is_file() and saved.is_file()):
        return
    if load_preset(saved).pretrain.model != "nnunet":
        return
    info = export_nnunet(ckpt, overwrite=True)  # the run's own export, renewed each time
    print(f"  nnU-Net:    {info['file']}")
    print(f"  fine-tune:  {info['command']}")
