"""``fdif-core finetune``: fine-tune a network on a real labelled dataset."""

from __future__ import annotations

import argparse

from ._common import add_device, add_max_memory, int_in, path, workers_max

NAME = "finetune"
ORDER = 50
OUTPUTS = {"out": "run", "cache": "resumable"}  # checked by fdif_core.io.guard before run()
INPUTS = ("dataset", "preset", "weights", "resume")
IDENTIFIERS = ()
HELP = "fine-tune on a real dataset (nnU-Net v2 / Decathlon folder or MONAI JSON datalist)"
DESCRIPTION = (
    "Fine-tune the network of the preset's finetune: section on a labelled dataset, from "
    "pre-trained weights (--weights CKPT: every tensor whose name and shape match is loaded, "
    "the output head is re-initialised) or from scratch (--scratch). Writes RUN/last.pt, "
    "best.pt, log.jsonl, tb/, splits_final.json and the preprocessing cache. Ctrl-C or "
    "SIGTERM saves last.pt at the current step and prints the command that resumes (exit "
    "130; 143 for SIGTERM). Multi-GPU: "
    "torchrun --nproc_per_node N -m fdif_core finetune ... --device cuda"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset", metavar="D", type=path, help="dataset folder or MONAI JSON datalist"
    )
    p.add_argument(
        "--preset",
        metavar="P",
        type=path,
        default=None,
        help="preset with a finetune: section: a file or a shipped name "
        "(quick, spine, btcv, amos, acdc, kits; default quick)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", metavar="CKPT", type=path, help="pre-trained checkpoint (.pt)")
    src.add_argument("--scratch", action="store_true", help="random initialisation")
    p.add_argument(
        "--fold",
        default="0",
        metavar="K",
        help="0..4 (nnU-Net 5-fold splits_final.json), dataset (its own validation list), "
        "or all (default 0)",
    )
    p.add_argument("--out", metavar="RUN", type=path, help="new (or empty) run folder")
    p.add_argument(
        "--resume", metavar="RUN", type=path, help="continue the run in RUN from last.pt"
    )
    p.add_argument(
        "--cache", metavar="DIR", type=path, help="preprocessing cache (default RUN/cache)"
    )
    p.add_argument(
        "--workers",
        type=int_in(0, workers_max),
        metavar="N",
        help="DataLoader workers, 0..4 x CPUs",
    )
    p.add_argument(
        "--max-steps", type=int_in(1), metavar="N", help="stop after N steps in this call"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    add_max_memory(p)


def load_finetune_preset(name: str | None):
    """A preset file or shipped name; bare names also look among the shipped finetune/ ones."""
    from ...presets import load_preset
    from ...presets.catalog import shipped_preset_path
    from ...presets.preset import PresetError

    name = name or "finetune/quick"
    try:
        preset = load_preset(name)
    except PresetError:
        shipped = shipped_preset_path(f"finetune/{name}")
        if shipped is None:
            raise
        preset = load_preset(shipped)
    from ...training.finetune import finetune_config

    finetune_config(preset, str(name))
    return preset


KEEP = ("--cache", "--workers", "--device", "--no-progress")  # flags a resume repeats
FLAGS = {"cache_dir": "--cache"}  # library argument -> flag, where the names differ


def run(args: argparse.Namespace) -> int:
    from ...errors import UserError
    from ...training.finetune import finetune
    from ._common import check_counts, check_training_memory, run_training, training_kwargs

    if args.resume and (args.out or args.dataset or args.weights or args.scratch):
        raise UserError("--resume: give only the run folder (dataset, fold, weights are kept)")
    if not args.resume:
        if not (args.dataset and args.out):
            raise UserError("finetune: give --dataset D --out RUN (or --resume RUN)")
        if not (args.weights or args.scratch):
            raise UserError("finetune: give --weights CKPT or --scratch")
    check_counts(args)
    fold: int | str = int(args.fold) if args.fold.isdigit() else args.fold
    if not isinstance(fold, int) and fold not in ("dataset", "all"):
        raise UserError(f"--fold {args.fold}: allowed: 0..4, dataset, all")
    if args.out:
        from pathlib import Path

        from ...io.targets import check_run_out

        check_run_out(Path(args.out))
    preset = load_finetune_preset(args.preset) if (args.preset or not args.resume) else None
    if preset is not None:
        check_training_memory(NAME, preset, args.workers, args)
    kwargs = training_kwargs(args)
    return run_training(
        NAME,
        args,
        KEEP,
        lambda: finetune(
            args.dataset,
            preset,
            args.out,
            weights=args.weights,
            fold=fold,
            cache_dir=args.cache,
            **kwargs,
        ),
    )
