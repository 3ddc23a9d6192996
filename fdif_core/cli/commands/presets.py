"""``fdif-core presets``: validate, show and list presets."""

from __future__ import annotations

import argparse

from ._common import add_max_memory, path

NAME = "presets"
ORDER = 5
HELP = "validate, show or list presets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = sub.add_parser(
        "validate",
        help="check presets as a run would (schema, sizes, workers, memory); one line per file",
    )
    v.add_argument("presets", nargs="+", metavar="P", type=path)
    add_max_memory(v)
    v.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="also check the pretrain:/finetune: networks as trained there (cpu: their "
        "memory counts; default: not checked)",
    )
    s = sub.add_parser("show", help="print the preset with every default filled in")
    s.add_argument("preset", metavar="P", type=path)
    sub.add_parser("list", help="list the shipped presets")


def run(args: argparse.Namespace) -> int:
    import sys

    from ...errors import UserError, word
    from ...presets import PresetError, load_preset
    from ...presets.catalog import shipped_presets
    from ...presets.limits import check_runs

    if args.action == "list":
        print("\n".join(shipped_presets()))
        return 0
    if args.action == "show":
        print(load_preset(args.preset).to_yaml(), end="")
        return 0
    failed = 0
    for name in args.presets:
        try:
            preset = load_preset(name)
            r = preset.recipe()
            gib = check_runs(preset, args.max_memory, args.device)
            print(
                f"ok: {name}: {preset.name}, {len(r.label_names) - 1} classes, "
                f"{len(r.mappers)} mappers, {len(r.displacements)} displacements, "
                f"up to {gib:.1f} GiB, hash {preset.hash()}"
            )
        except UserError as err:
            where = "" if isinstance(err, PresetError) else f"{name}: "
            text = word(err.raw or str(err), lambda n: "--" + n.replace("_", "-"))
            print(f"error: {where}{' '.join(text.split())}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0
