"""Argument helpers shared by commands: typed, range-checked values, one-line errors."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

INDEX_MAX = 2**63 - 1  # sample indices (any non-negative int64)
EDGE_MAX = 4096  # --shape edges; the voxel limit applies on top


def path(value: str) -> str:
    """A path argument; an empty one (an unset shell variable) is refused."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty path (an unset shell variable?); give a path")
    return value


def int_in(low: int, high: int | Callable[[], int] | None = None) -> Callable[[str], int]:
    """An integer type within ``low..high`` (``high`` may be computed when parsing)."""

    def parse(value: str) -> int:
        try:
            n = int(value.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
        top = high() if callable(high) else high
        if n < low or (top is not None and n > top):
            allowed = f"{low}..{top}" if top is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{n}: allowed {allowed}")
        return n

    parse.__name__ = "integer"
    return parse


def float_in(
    low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """A finite float within ``[low, high]`` (ends open as told); nan and inf refused."""

    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        below = x <= low if low_open else x < low
        above = x >= high if high_open else x > high
        if not math.isfinite(x) or below or above:
            if math.isinf(high):
                allowed = f"a finite number {'>' if low_open else '>='} {low:g}"
            else:
                lo, hi = "(" if low_open else "[", ")" if high_open else "]"
                allowed = f"a finite number in {lo}{low:g}, {high:g}{hi}"
            raise argparse.ArgumentTypeError(f"{value}: allowed {allowed}")
        return x

    parse.__name__ = "number"
    return parse


def workers_max() -> int:
    from ...presets.limits import max_workers

    return max_workers()


def add_preset(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--preset",
        required=required,
        metavar="P",
        type=path,
        help="preset YAML file or shipped preset name (quickstart, fdif-paper, primgeoseg)",
    )


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default="cpu", help="torch device: cpu, cuda, cuda:1 ... (default: cpu)"
    )


def add_shape(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--shape",
        type=int_in(1, EDGE_MAX),
        nargs=3,
        metavar=("D", "H", "W"),
        help="render at this shape instead of the preset's (same scene, resampled)",
    )


def add_max_memory(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-memory",
        type=float_in(0.0, low_open=True),
        metavar="GIB",
        help="refuse to start above this estimated memory (default: the preset's "
        "limits.max_memory_gib, else 80%% of this machine's memory)",
    )


def add_overwrite(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def check_training_memory(command: str, preset, workers: int | None, args) -> None:
    """What a training command checks before it starts: its workers (4 per CPU), its inputs
    (weights, --data), its device and its estimated host memory, the network's
    included when it trains on the CPU."""
    from ...presets.limits import check_memory, check_workers, cpu_training

    cfg = getattr(preset, command)
    n = cfg.num_workers if workers is None else workers
    check_workers(n, "--workers" if workers is not None else f"{command}.num_workers", 0)
    check_inputs(args)  # a missing checkpoint or --data folder before the memory
    extra = cpu_training(cfg) if device(args.device).type == "cpu" else ()
    max_gib = getattr(args, "max_memory", None)
    check_memory(preset, command, workers=n, max_memory_gib=max_gib, extra=extra)


def shape3(values: list[int] | None) -> tuple[int, int, int] | None:
    if values is None:
        return None
    return (values[0], values[1], values[2])


def device(name: str):
    import torch

    from ...errors import UserError

    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: unknown device {name!r}; use cpu or cuda[:N]") from None
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: allowed: cpu, cuda, cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is visible to torch on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible"
            )
    return dev


def checked_device(name: str, prog: str, cpu_run: str):
    """``device(name)`` for a script: a refusal is one line naming what it needs, exit 2."""
    import sys

    from ...errors import UserError

    try:
        return device(name)
    except UserError as err:
        need = f" (this needs CUDA; on a CPU: {prog} {cpu_run})" if "cuda" in str(name) else ""
        print(f"{prog}: error: {err}{need}", file=sys.stderr)
        raise SystemExit(2) from None


def check_inputs(args: argparse.Namespace) -> None:
    """Missing inputs (weights, --data) before sizes and limits: a user fixes what is absent
    before tuning what is too big."""
    from pathlib import Path

    from ...errors import ArgumentError, UserError

    weights = getattr(args, "weights", None)
    if isinstance(weights, str) and not Path(weights).is_file():
        raise UserError(f"{weights}: no checkpoint there")
    data = getattr(args, "data", None)
    if data and not Path(data).is_dir():
        raise ArgumentError("data", f"{data} is not a folder")
    dataset = getattr(args, "dataset", None)
    if isinstance(dataset, str) and dataset and not Path(dataset).exists():
        raise ArgumentError(
            "dataset", f"{dataset}: no such dataset (a dataset folder or MONAI JSON datalist)"
        )


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
    SIGINT / SIGTERM (saved at the current step) print how to resume and exit 130 / 143."""
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
    """One line on stderr (rank 0): where the run stopped and how to resume it; exit 130
    (SIGINT) or 143 (SIGTERM)."""
    import os
    import sys

    if int(os.environ.get("RANK", "0")) == 0:
        how = resume_command(command, err.run_dir, args, keep)
        print(
            f"fdif-core {command}: interrupted ({err}); saved {err.run_dir / 'last.pt'}; "
            f"resume with: {how}",
            file=sys.stderr,
        )
    return 128 + int(getattr(err, "signum", 2))  # 130 (SIGINT) or 143 (SIGTERM)
