"""``fdif-core pretrain``: pre-train a network on formula-driven data from a preset."""

from __future__ import annotations

import argparse

from ._common import add_device, add_preset

NAME = "pretrain"
ORDER = 40
HELP = "pre-train the preset's network on on-the-fly FDIF data (resumable; torchrun for DDP)"
DESCRIPTION = (
    "Pre-train the network of the preset's pretrain: section on an endless stream of synthetic "
    "volumes (or on a dataset from `fdif-core generate` with --data). Writes OUT/last.pt, "
    "best.pt, log.jsonl, tb/ (TensorBoard) and preview.png. Multi-GPU: "
    "torchrun --nproc_per_node N -m fdif_core pretrain --preset P --out OUT --device cuda"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p, required=False)
    p.add_argument("--out", metavar="DIR", help="new run folder")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint"
    )
    p.add_argument(
        "--data", metavar="DIR", help="train on a dataset made by `fdif-core generate` instead"
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="DataLoader workers rendering on the CPU (default: the preset's num_workers)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        metavar="N",
        help="stop after N steps in this call (checkpointed; continue with --resume)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)


def run(args: argparse.Namespace) -> int:
    import os

    from ...errors import UserError
    from ...presets import load_preset
    from ...training.pretrain import pretrain, read_log
    from ._common import device

    if args.resume and args.out:
        raise UserError("--resume and --out: give one (a run resumes in its own folder)")
    if not args.resume and not (args.preset and args.out):
        raise UserError("pretrain: give --preset P --out DIR, or --resume RUN_DIR")
    for flag, value in (("--workers", args.workers), ("--max-steps", args.max_steps)):
        if value is not None and value < (0 if flag == "--workers" else 1):
            raise UserError(f"{flag}: must be {'>= 0' if flag == '--workers' else '>= 1'}")
    preset = None
    if args.preset:
        preset = load_preset(args.preset)
        if "pretrain" not in preset.model_fields_set:
            raise UserError(
                f"{args.preset}: no pretrain: section; add one (see presets/quickstart.yaml)"
            )
    dev = device(args.device)
    res = pretrain(
        preset,
        args.out,
        resume=args.resume,
        device=dev,
        data=args.data,
        workers=args.workers,
        max_steps=args.max_steps,
        progress=not args.no_progress,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    state = "finished" if res.finished else "stopped"
    print(f"pretrain {state} at step {res.step}")
    rows = [r for r in read_log(res.run_dir) if any(k.startswith("val_") for k in r)]
    if rows:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in rows[-1].items() if k != "step")
        print(f"  validation at step {rows[-1]['step']}: {scores} (best {res.best_val:.4f})")
    print(
        f"  step time {res.step_s * 1000:.0f} ms, data wait {res.data_wait_s * 1000:.1f} ms "
        f"({100 * res.data_wait_s / max(res.step_s, 1e-9):.1f}%)"
    )
    print(f"  checkpoint: {res.checkpoint}")
    if (res.run_dir / "best.pt").exists():
        print(f"  best:       {res.run_dir / 'best.pt'}")
    print(f"  log:        {res.run_dir / 'log.jsonl'} (TensorBoard: {res.run_dir / 'tb'})")
    if res.preview:
        print(f"  preview:    {res.preview}")
    if not res.finished:
        print(f"  continue:   fdif-core pretrain --resume {res.run_dir}")
    return 0
