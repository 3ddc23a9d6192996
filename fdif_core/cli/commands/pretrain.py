"""``fdif-core pretrain``: pre-train a network on formula-driven data from a preset."""

from __future__ import annotations

import argparse

from ._common import add_device, add_max_memory, add_preset, int_in, path, workers_max

NAME = "pretrain"
ORDER = 40
HELP = "pre-train the preset's network on on-the-fly FDIF data (resumable; torchrun for DDP)"
DESCRIPTION = (
    "Pre-train the network of the preset's pretrain: section on an endless stream of synthetic "
    "volumes (or on a dataset from `fdif-core generate` with --data). Writes OUT/last.pt, "
    "best.pt, log.jsonl, tb/ (TensorBoard) and preview.png. Ctrl-C or SIGTERM saves last.pt "
    "at the current step and prints the command that resumes (exit 130). Multi-GPU: "
    "torchrun --nproc_per_node N -m fdif_core pretrain --preset P --out OUT --device cuda"
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


KEEP = ("--data", "--workers", "--device", "--no-progress")  # flags a resume repeats


def run(args: argparse.Namespace) -> int:
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
        check_training_memory(NAME, preset, args.workers, args)
    kwargs = training_kwargs(args)
    return run_training(
        NAME, args, KEEP, lambda: pretrain(preset, args.out, data=args.data, **kwargs)
    )
