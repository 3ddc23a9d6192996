"""``fdif-core evaluate``: sliding-window inference and Dice / surface Dice of a checkpoint."""

from __future__ import annotations

import argparse

from ._common import add_device, add_overwrite, float_in, path

NAME = "evaluate"
ORDER = 55
OUTPUTS = {"out": "folder"}  # checked by fdif_core.io.guard before run()
INPUTS = ("weights", "dataset")
IDENTIFIERS = ()
HELP = "evaluate a fine-tuned checkpoint: NIfTI predictions, per-case/per-class Dice, NSD"
DESCRIPTION = (
    "Sliding-window inference (Gaussian blending) of a fine-tuned checkpoint on the run's "
    "validation fold or the dataset's test cases; predictions are written as NIfTI in each "
    "case's original geometry, per-case and per-class Dice and surface Dice (1 and 2 mm) to "
    "metrics.json and metrics.csv, and the mean over foreground classes is printed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weights", required=True, metavar="CKPT", type=path, help="best.pt of a finetune run"
    )
    p.add_argument(
        "--dataset",
        metavar="D",
        type=path,
        help="dataset (default: the one the run was trained on)",
    )
    p.add_argument("--split", choices=("val", "test"), default="val", help="default: val")
    p.add_argument(
        "--out", metavar="DIR", type=path, help="output folder (default RUN/eval_<split>)"
    )
    p.add_argument(
        "--overlap",
        type=float_in(0.0, 1.0, high_open=True),
        metavar="F",
        help="sliding-window overlap in [0, 1)",
    )
    p.add_argument(
        "--tolerances",
        type=float_in(0.0, low_open=True),
        nargs="+",
        default=[1.0, 2.0],
        metavar="MM",
        help="surface Dice tolerances in mm (default 1 2)",
    )
    add_device(p)
    add_overwrite(p, "the predictions and metrics of an earlier evaluation in --out")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ...evaluation.evaluate import evaluate_checkpoint, format_table
    from ...io.targets import check_out_folder
    from ._common import device

    out = Path(args.out) if args.out else Path(args.weights).parent / f"eval_{args.split}"
    check_out_folder(out, "--out", args.overwrite, ["predictions", "metrics.json", "metrics.csv"])
    doc = evaluate_checkpoint(
        args.weights,
        args.dataset,
        split=args.split,
        out=args.out,
        device=device(args.device),
        overlap=args.overlap,
        tolerances=args.tolerances,
        progress=sys.stderr.isatty(),
    )
    if not doc["per_case"]:
        print("no reference labels: predictions written, nothing scored")
        return 0
    print(format_table(doc))
    dice = doc["mean"].get("dice")
    print(f"mean Dice over foreground classes: {dice:.4f}" if dice is not None else "n/a")
    return 0
