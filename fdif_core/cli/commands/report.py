"""``fdif-core report RUN``: per-class validation Dice and a labelled preview of a run."""

from __future__ import annotations

import argparse

from ._common import add_device, add_overwrite, int_in, path


def _max_cases() -> int:
    from ...presets.limits import MAX_CASES

    return MAX_CASES


NAME = "report"
ORDER = 42
OUTPUTS = {"out": "file"}  # checked by fdif_core.io.guard before run()
INPUTS = ("run", "finetune_data")  # finetune_data: only named in the printed command
IDENTIFIERS = ()
HELP = "what a pre-training run learned: Dice per class, labelled preview, next command"
DESCRIPTION = (
    "Load RUN/best.pt of a pre-training run, predict its fixed synthetic validation volumes, "
    "print the Dice of every class, write RUN/report.png (image, ground truth and "
    "prediction side by side with a legend of class names) and print the checkpoint and a "
    "command that fine-tunes from it."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="pre-training run folder (fdif-core pretrain --out)")
    p.add_argument(
        "--out", metavar="PNG", type=path, help="figure path (default RUN/report.png, replaced)"
    )
    add_overwrite(p, "an existing --out file (never a run's own files)")
    p.add_argument(
        "--volumes",
        type=int_in(1, _max_cases),
        metavar="N",
        help="validation volumes to score (default: the run's val_volumes; more continue the "
        "same fixed sequence)",
    )
    p.add_argument(
        "--finetune-data",
        metavar="D",
        default="data/spine",
        help="dataset named in the printed fine-tuning command (default data/spine, written "
        "by fdif-core fetch-data tptbox-spine --out data/spine)",
    )
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...evaluation.run_report import report_run
    from ._common import device

    rep = report_run(args.run, args.out, str(device(args.device)), args.volumes, args.overwrite)
    width = max(len(n) for n in [*rep["dice"], "mean over classes"])
    print(f"validation: {rep['volumes']} synthetic volumes, checkpoint step {rep['step']}")
    print(f"  {'class'.ljust(width)}  Dice")
    for name, v in rep["dice"].items():
        print(f"  {name.ljust(width)}  {'n/a' if v is None else f'{v:.3f}'}")
    mean = rep["mean"]
    print(f"  {'mean over classes'.ljust(width)}  {'n/a' if mean is None else f'{mean:.3f}'}")
    print(f"preview:    {rep['figure']}")
    print(f"checkpoint: {rep['checkpoint']}")
    data = args.finetune_data
    fetch = "" if Path(data).exists() else f"fdif-core fetch-data tptbox-spine --out {data} && "
    print(
        f"fine-tune:  {fetch}fdif-core finetune --dataset {data} --preset spine "
        f"--weights {rep['checkpoint']} --out {rep['checkpoint'].parent}-spine"
    )
    return 0
