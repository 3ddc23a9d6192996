"""``fdif-core bench``: volumes per second and peak memory against a naive baseline."""

from __future__ import annotations

import argparse

from ._common import add_device, add_preset, add_shape, shape3

NAME = "bench"
ORDER = 90
HELP = "engine volumes/s and peak memory vs a naive full-grid evaluation (same scenes, same run)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    add_device(p)
    p.add_argument(
        "--samples", type=int, default=12, help="volumes timed per engine row (default 12)"
    )
    p.add_argument("--naive-samples", type=int, default=3, help="volumes timed for the baseline")
    add_shape(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from ...errors import UserError
    from ...presets import load_preset, resolve_path
    from ...synthetic import bench
    from ._common import device

    if args.samples < 1 or args.naive_samples < 1:
        raise UserError("--samples and --naive-samples must be at least 1")
    dev = device(args.device)
    path = str(resolve_path(args.preset))
    preset = load_preset(path)
    rows = bench.run(
        path,
        dev.type if dev.index is None else str(dev),
        args.samples,
        args.naive_samples,
        shape3(args.shape),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "preset": preset.name,
                    "shape": list(args.shape or preset.volume.shape),
                    "device": str(dev),
                    "rows": bench.as_dicts(rows),
                },
                indent=2,
            )
        )
    else:
        shape = "x".join(map(str, args.shape or preset.volume.shape))
        print(
            f"preset {preset.name}, {shape}, {preset.objects.per_volume} objects/volume, "
            f"device {dev}, one thread per process"
        )
        print(bench.report(rows))
    return 0
