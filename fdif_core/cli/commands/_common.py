"""Argument helpers shared by commands."""

from __future__ import annotations

import argparse


def add_preset(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--preset",
        required=required,
        metavar="P",
        help="preset YAML file or shipped preset name (quickstart, fdif-paper, primgeoseg)",
    )


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default="cpu", help="torch device: cpu, cuda, cuda:1 ... (default: cpu)"
    )


def add_shape(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--shape",
        type=int,
        nargs=3,
        metavar=("D", "H", "W"),
        help="render at this shape instead of the preset's (same scene, resampled)",
    )


def shape3(values: list[int] | None) -> tuple[int, int, int] | None:
    from ...errors import UserError

    if values is None:
        return None
    if any(v <= 0 for v in values):
        raise UserError(f"--shape: sizes must be positive, got {values}")
    return (values[0], values[1], values[2])


def device(name: str):
    import torch

    from ...errors import UserError

    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: unknown device {name!r}; use cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is visible to torch on this machine")
    return dev


def check_counts(args: argparse.Namespace) -> None:
    """``--workers`` >= 0 and ``--max-steps`` >= 1 where given."""
    from ...errors import UserError

    for flag, value, low in (("--workers", args.workers, 0), ("--max-steps", args.max_steps, 1)):
        if value is not None and value < low:
            raise UserError(f"{flag}: must be >= {low}")


def training_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments ``pretrain`` and ``finetune`` take from the same flags."""
    return {
        "resume": args.resume,
        "device": device(args.device),
        "workers": args.workers,
        "max_steps": args.max_steps,
        "progress": not args.no_progress,
    }


def run_training(command: str, args: argparse.Namespace, keep: tuple[str, ...], train) -> int:
    """Run ``train()`` (a pre-training or fine-tuning call) and report it on rank 0; on
    SIGINT / SIGTERM (saved at the current step) print how to resume and exit 130."""
    import os

    from ...training.loop import TrainingInterrupted

    try:
        res = train()
    except TrainingInterrupted as err:
        return interrupted(command, args, err, keep)
    if int(os.environ.get("RANK", "0")) == 0:
        training_report(command, args, res, keep)
        if res.finished and command == "finetune":
            best = res.run_dir / "best.pt"
            print(f"  evaluate:   fdif-core evaluate --weights {best} --split val")
    return 0


def training_report(command: str, args: argparse.Namespace, res, keep: tuple[str, ...]) -> None:
    """What a pre-training or fine-tuning call printed on rank 0: state, validation, files."""
    print(f"{command} {'finished' if res.finished else 'stopped'} at step {res.step}")
    if res.val:
        step = max(res.val)
        scores = ", ".join(f"{k} {v:.4f}" for k, v in res.scores.items())
        print(f"  validation at step {step}: {scores} (best {res.best_val:.4f})")
    if res.skipped_steps:
        print(f"  skipped steps (non-finite gradients): {res.skipped_steps}")
    wait = 100 * res.data_wait_s / max(res.step_s, 1e-9)
    print(
        f"  step time {res.step_s * 1000:.0f} ms, data wait {res.data_wait_s * 1000:.1f} ms "
        f"({wait:.1f}%)"
    )
    print(f"  checkpoint: {res.checkpoint}")
    if (res.run_dir / "best.pt").exists():
        print(f"  best:       {res.run_dir / 'best.pt'}")
    print(f"  log:        {res.run_dir / 'log.jsonl'} (TensorBoard: {res.run_dir / 'tb'})")
    if res.preview:
        print(f"  preview:    {res.preview}")
    if not res.finished:
        print(f"  continue:   {resume_command(command, res.run_dir, args, keep)}")


def resume_command(command: str, run_dir, args: argparse.Namespace, keep: tuple[str, ...]) -> str:
    """The exact command that continues ``run_dir`` (with the flags in ``keep`` that were set)."""
    import shlex

    words = ["fdif-core", command, "--resume", str(run_dir)]
    for flag in keep:
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value not in (None, False, "cpu"):
            words += [flag] if value is True else [flag, str(value)]
    return shlex.join(words)


def interrupted(command: str, args: argparse.Namespace, err, keep: tuple[str, ...]) -> int:
    """One line on stderr (rank 0): where the run stopped and how to resume it; exit 130."""
    import os
    import sys

    if int(os.environ.get("RANK", "0")) == 0:
        how = resume_command(command, err.run_dir, args, keep)
        print(
            f"fdif-core {command}: interrupted ({err}); saved {err.run_dir / 'last.pt'}; "
            f"resume with: {how}",
            file=sys.stderr,
        )
    return 130
