"""``fdif-core classes``: the label list of a preset."""

from __future__ import annotations

import argparse

from ._common import add_preset

NAME = "classes"
ORDER = 10
OUTPUTS = {}  # checked by fdif_core.io.guard before run()
INPUTS = ("preset",)
IDENTIFIERS = ()
HELP = "print a preset's classes in label order (line i = label i; 0 = background)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    p.add_argument(
        "--task",
        default="shape",
        help="label map for multitask presets: shape, displacement, mapper",
    )


def run(args: argparse.Namespace) -> int:
    from ...errors import UserError
    from ...presets import load_preset

    recipe = load_preset(args.preset).recipe()
    tasks = recipe.task_names()
    if args.task not in tasks:
        raise UserError(
            f"--task: {args.task!r} is not a label map of this preset; allowed: {', '.join(tasks)}"
        )
    names = tasks[args.task]
    fams = (
        recipe.families if args.task == "shape" else ["background"] + [args.task] * (len(names) - 1)
    )
    for name, fam in zip(names, fams, strict=True):
        print(f"{name}\t{fam}")
    return 0
