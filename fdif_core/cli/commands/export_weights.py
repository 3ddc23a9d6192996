"""``fdif-core export-weights``: pre-trained weights for fine-tuning inside nnU-Net v2."""

from __future__ import annotations

import argparse

from ._common import add_overwrite, int_in, path

NAME = "export-weights"
MAX_CLASSES = 65536
ORDER = 60
HELP = "export a pre-training as nnUNetv2_train -pretrained_weights FILE (ResEnc-L, Primus-M)"
DESCRIPTION = (
    "Write a run's weights as a checkpoint that nnU-Net v2 loads with "
    "`nnUNetv2_train DATASET 3d_fullres FOLD -pretrained_weights FILE` (ResEnc-L: also "
    "FILE.plans.json, the plans architecture block that builds the same network; Primus-M: "
    "train with -tr nnUNet_Primus_M_Trainer and give --num-classes)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run", metavar="RUN", type=path, help="run folder (its last.pt) or a checkpoint file"
    )
    p.add_argument("--format", choices=("nnunet",), default="nnunet", help="default: nnunet")
    p.add_argument(
        "--out",
        metavar="FILE",
        type=path,
        help="output .pth, a new file (default RUN/nnunet_weights.pth); never a run's own file",
    )
    p.add_argument(
        "--num-classes",
        type=int_in(2, MAX_CLASSES),
        metavar="N",
        help="target dataset labels incl. background (needed for Primus-M)",
    )
    add_overwrite(p, "an existing --out file (and its .plans.json)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...errors import UserError
    from ...io.targets import check_new_file
    from ...training.export_weights import export_nnunet

    src = Path(args.run)
    ckpt = src / "last.pt" if src.is_dir() else src
    folder = src if src.is_dir() else src.parent
    out = Path(args.out) if args.out else folder / "nnunet_weights.pth"
    if out.resolve() == ckpt.resolve():
        raise UserError(f"--out {out}: is the checkpoint being exported; choose another file")
    check_new_file(out, "--out", args.overwrite)
    check_new_file(out.with_name(out.name + ".plans.json"), "--out", args.overwrite)
    info = export_nnunet(ckpt, out, num_classes=args.num_classes)
    print(f"wrote {info['file']} ({info['model']}, {info['tensors']} tensors)")
    if "plans" in info:
        print(f"  nnU-Net plans architecture block: {info['plans']}")
        print(
            "  paste it into the configuration of your nnUNetPlans.json (same patch edges "
            "divisible by the network), then:"
        )
        print(f"  nnUNetv2_train DATASET 3d_fullres FOLD -pretrained_weights {info['file']}")
    else:
        print(
            f"  decoder re-initialised for {args.num_classes} classes "
            f"({info['reinitialised']} tensors); then:"
        )
        print(
            f"  nnUNetv2_train DATASET 3d_fullres FOLD -tr {info['nnunet_trainer']} "
            f"-pretrained_weights {info['file']}"
        )
    return 0
