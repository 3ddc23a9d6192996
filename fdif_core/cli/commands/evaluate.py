"""``fdif-core evaluate``: sliding-window inference and Dice / surface Dice of a checkpoint."""

from __future__ import annotations

import argparse

from ._common import add_device

NAME = "evaluate"
ORDER = 55
HELP = "evaluate a fine-tuned checkpoint: NIfTI predictions, per-case/per-class Dice, NSD"
DESCRIPTION = (
    "Sliding-window inference (Gaussian blending) of a fine-tuned checkpoint on the run's "
    "validation fold or the dataset's test cases; predictions are written as NIfTI in each "
    "case's original geometry, per-case and per-class Dice and surface Dice (1 and 2 mm) to "
    "metrics.json and metrics.csv, and the mean over foreground classes is printed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, metavar="CKPT", help="best.pt of a finetune run")
    p.add_argument(
        "--dataset", metavar="D", help="dataset (default: the one the run was trained on)"
    )
    p.add_argument("--split", choices=("val", "test"), default="val", help="default: val")
    p.add_argument("--out", metavar="DIR", help="output folder (default RUN/eval_<split>)")
    p.add_argument("--overlap", type=float, metavar="F", help="sliding-window overlap (0..1)")
    p.add_argument(
        "--tolerances",
        type=float,
        nargs="+",
        default=[1.0, 2.0],
        metavar="MM",
        help="surface Dice tolerances in mm (default 1 2)",
    )
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from ...errors import UserError
    from ...evaluation.evaluate import evaluate_checkpoint, format_table
    from ._common import device

    if args.overlap is not None and not 0.0 <= args.overlap < 1.0:
        raise UserError(f"--overlap: must be in [0, 1), got {args.overlap}")
    if any(t <= 0 for t in args.tolerances):
        raise UserError("--tolerances: must be positive (mm)")
    doc = evaluate_checkpoint(
        args.weights,
        args.dataset,
        split=args.split,
        out=args.out,
        device=device(args.device),
        overlap=args.overlap,
        tolerances=args.tolerances,
    )
    if not doc["per_case"]:
        print("no reference labels: predictions written, nothing scored")
        return 0
    print(format_table(doc))
    dice = doc["mean"].get("dice")
    print(f"mean Dice over foreground classes: {dice:.4f}" if dice is not None else "n/a")
    return 0
