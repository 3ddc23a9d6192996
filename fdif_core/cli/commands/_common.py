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
