"""``fdif-core export-weights``: pre-trained weights (and plans) for fine-tuning in nnU-Net v2."""

from __future__ import annotations

import argparse

from ._common import EDGE_MAX, add_overwrite, int_in, path

NAME = "export-weights"
ORDER = 60
OUTPUTS = {"out": "file"}  # checked by fdif_core.io.guard before run()
INPUTS = ("run", "dataset")
IDENTIFIERS = ("plans", "plans_name", "configuration")
HELP = "export a pre-training for nnUNetv2_train -pretrained_weights (writes the plans it needs)"
DESCRIPTION = (
    "Write a run's weights as the file nnU-Net v2 loads with `nnUNetv2_train DATASET "
    "3d_fullres FOLD -p PLANS -pretrained_weights FILE`. A run pre-trained with "
    "--nnunet-plans already has nnU-Net's network for its dataset. A ResEnc-L, small U-Net or "
    "Primus-M run gets a new plans identifier written into $nnUNet_preprocessed/<--dataset> "
    "(the target's plans with this network's architecture and patch); refused in one line when "
    "the dataset's spacing or image size does not fit the network. Prints the nnUNetv2_train line."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run", metavar="RUN", type=path, help="run folder (its last.pt) or a checkpoint file"
    )
    p.add_argument("--format", choices=("nnunet",), default="nnunet", help="default: nnunet")
    p.add_argument(
        "--dataset",
        metavar="D",
        type=path,
        help="target nnU-Net dataset: id (27) or DatasetXXX_Name under $nnUNet_preprocessed, "
        "or that folder's path",
    )
    p.add_argument(
        "--plans",
        default="nnUNetPlans",
        metavar="ID",
        type=path,
        help="the dataset's plans identifier to start from (default nnUNetPlans; ResEnc-L: "
        "nnUNetResEncUNetLPlans from nnUNetPlannerResEncL)",
    )
    p.add_argument("--configuration", default="3d_fullres", metavar="C", help="default: 3d_fullres")
    p.add_argument(
        "--plans-name",
        metavar="ID",
        type=path,
        help="new plans identifier (default fdif_<network>)",
    )
    p.add_argument(
        "--patch",
        type=int_in(1, EDGE_MAX),
        nargs=3,
        metavar=("D", "H", "W"),
        help="patch size of the new plans (U-Nets; default: the pre-training patch)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        type=path,
        help="output .pth, a new file (default: in RUN); never a run's own file",
    )
    add_overwrite(p, "an existing --out file and a different plans file of that name")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...training.export_weights import export_nnunet
    from ._common import shape3

    src = Path(args.run)
    ckpt = src / "last.pt" if src.is_dir() else src
    info = export_nnunet(
        ckpt,
        args.out,
        dataset=args.dataset,
        plans=args.plans,
        configuration=args.configuration,
        plans_name=args.plans_name,
        patch=shape3(args.patch),
        overwrite=args.overwrite,
    )
    print(f"wrote {info['file']} ({info['model']}, {info['tensors']} tensors)")
    if "plans" in info:
        print(f"  nnU-Net plans: {info['plans']}")
    if info["reinitialised"]:
        print(f"  re-initialised for the dataset's classes: {info['reinitialised']} tensors")
    print(f"  fine-tune: {info['command']}")
    return 0
