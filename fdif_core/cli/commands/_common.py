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
