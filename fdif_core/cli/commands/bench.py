"""``fdif-core bench``: volumes per second and peak memory against a naive baseline."""

from __future__ import annotations

import argparse

from ._common import add_device, add_max_memory, add_preset, add_shape, int_in, shape3

NAME = "bench"
ORDER = 90
OUTPUTS = {}  # checked by fdif_core.io.guard before run()
INPUTS = ("preset",)
IDENTIFIERS = ()
HELP = "engine volumes/s and peak memory vs a naive full-grid evaluation (same scenes, same run)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    add_device(p)
    p.add_argument(
        "--samples",
        type=int_in(1, 1000),
        default=12,
        help="volumes timed per engine row, 1..1000 (default 12)",
    )
    p.add_argument(
        "--naive-samples",
        type=int_in(1, 100),
        default=3,
        help="volumes timed for the baseline, 1..100 (default 3)",
    )
    add_shape(p)
    add_max_memory(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from ...presets import load_preset, resolve_path
    from ...presets.limits import check_memory, check_shape
    from ...synthetic import bench
    from ._common import device

    dev = device(args.device)
    path = str(resolve_path(args.preset))
    preset = load_preset(path)
    if args.shape:
        check_shape(preset, shape3(args.shape))  # type: ignore[arg-type]
    check_memory(preset, "bench", shape=shape3(args.shape), max_memory_gib=args.max_memory)
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
