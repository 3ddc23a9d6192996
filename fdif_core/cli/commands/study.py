"""``fdif-core study``: a transfer study from one YAML spec (arms x folds x seeds x regimes)."""

from __future__ import annotations

import argparse

from ._common import add_device, path

NAME = "study"
ORDER = 59
OUTPUTS = {"out": "resumable"}  # checked by fdif_core.io.guard before run()
INPUTS = ("spec",)
IDENTIFIERS = ()
HELP = "transfer study: pre-train every arm on one budget, fine-tune on folds x seeds, table"
DESCRIPTION = (
    "Run the study described by SPEC (studies/*.yaml): pre-train each arm (scratch, FDIF "
    "presets, PrimGeoSeg) with the same steps x batch, fine-tune each on every fold with "
    "every seed in each data regime (equal steps), evaluate Dice and surface Dice on the "
    "fold's validation cases, and write OUT/study.md (means, 95 % intervals, paired tests "
    "against scratch), study.csv, study.json and curves.png (validation Dice against "
    "fine-tuning steps). Every finished unit is kept: rerun the same command to continue "
    "an interrupted study. Arms whose preset is missing are skipped with a message."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec", metavar="SPEC", type=path, help="study spec YAML (e.g. studies/spine.yaml)"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", type=path, help="study folder (resumable)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke size: the spec's quick: section (first folds and seeds, few steps, final "
        "evaluation at quick.eval_overlap and quick.eval_amp; CPU minutes)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="train nothing: write the table and figure from the runs finished so far",
    )
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...presets.study import load_study
    from ...studies.study import run_study
    from ._common import device

    spec = load_study(args.spec)
    summary = run_study(
        spec,
        args.out,
        base=Path(args.spec).resolve().parent,
        quick=args.quick,
        device=str(device(args.device)),
        report_only=args.report,
    )
    print()
    print((Path(args.out) / "study.md").read_text())
    for arm in summary.get("skipped_arms", []):
        print(f"arm without results: {arm} (preset missing, or no run finished yet)")
    print(f"table: {Path(args.out) / 'study.md'}  figure: {Path(args.out) / 'curves.png'}")
    if summary.get("time"):
        print(summary["time"])
    return 0
