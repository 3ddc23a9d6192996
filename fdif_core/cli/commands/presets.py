"""``fdif-core presets``: validate, show and list presets."""

from __future__ import annotations

import argparse

NAME = "presets"
ORDER = 5
HELP = "validate, show or list presets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = sub.add_parser("validate", help="check presets; one line per file")
    v.add_argument("presets", nargs="+", metavar="P")
    s = sub.add_parser("show", help="print the preset with every default filled in")
    s.add_argument("preset", metavar="P")
    sub.add_parser("list", help="list the shipped presets")


def run(args: argparse.Namespace) -> int:
    import sys

    from ...presets import PresetError, load_preset
    from ...presets.preset import PRESET_DIR

    if args.action == "list":
        for path in sorted(PRESET_DIR.rglob("*.yaml")):
            print(path.relative_to(PRESET_DIR).with_suffix(""))
        return 0
    if args.action == "show":
        print(load_preset(args.preset).to_yaml(), end="")
        return 0
    failed = 0
    for name in args.presets:
        try:
            preset = load_preset(name)
            r = preset.recipe()
            print(
                f"ok: {name}: {preset.name}, {len(r.label_names) - 1} classes, "
                f"{len(r.mappers)} mappers, {len(r.displacements)} displacements, "
                f"hash {preset.hash()}"
            )
        except PresetError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0
