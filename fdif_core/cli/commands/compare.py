"""``fdif-core compare``: scratch vs pre-trained fine-tuning with one budget, one Dice table."""

from __future__ import annotations

import argparse

from ._common import add_device, path

NAME = "compare"
ORDER = 58
OUTPUTS = {"out": "resumable"}  # checked by fdif_core.io.guard before run()
INPUTS = ("dataset", "preset", "weights")
IDENTIFIERS = ()
FLAGS = {"fold": "--folds"}  # library argument -> flag, where the names differ
HELP = "fine-tune from scratch and from each pre-training with the same budget; print Dice"
DESCRIPTION = (
    "Fine-tune the preset's network on a dataset from scratch and from every checkpoint "
    "given as NAME=CKPT (same iterations, seed, folds and preprocessing), evaluate each on "
    "its fold's validation cases, and print one Markdown table of Dice (OUT/compare.md, "
    "OUT/compare.json). Finished runs are reused: rerun the same command to continue."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset", required=True, metavar="D", type=path, help="dataset folder or datalist"
    )
    p.add_argument(
        "--preset", metavar="P", type=path, help="preset with a finetune: section (default quick)"
    )
    p.add_argument(
        "--weights",
        nargs="*",
        default=[],
        metavar="NAME=CKPT",
        help="pre-trained checkpoints, e.g. fdif=runs/fdif/last.pt primgeoseg=runs/pgs/last.pt",
    )
    p.add_argument(
        "--folds", nargs="+", default=["0"], metavar="K", help="folds to run (default 0)"
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        type=path,
        help="comparison folder: new, empty, or an earlier comparison to continue",
    )
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...errors import UserError
    from ...studies.compare import compare, format_compare, parse_sources
    from ._common import device
    from .finetune import load_finetune_preset

    folds: list[int | str] = []
    for f in args.folds:
        if f.isdigit():
            folds.append(int(f))
        elif f in ("dataset", "all"):
            folds.append(f)
        else:
            raise UserError(f"--folds {f}: allowed: 0..4, dataset, all")
    sources = parse_sources(args.weights)
    _check_out(Path(args.out), sources)
    table = compare(
        args.dataset,
        load_finetune_preset(args.preset),
        sources,
        args.out,
        folds=folds,
        device=str(device(args.device)),
    )
    print()
    print(format_compare(table))
    return 0


def _check_out(out, sources: dict) -> None:
    """``out`` is new, empty, or holds only what a comparison writes (it continues one)."""
    from ...errors import UserError
    from ...io.targets import visible_entries

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if not out.is_dir():
        return
    ours = {"cache", "compare.json", "compare.md", *sources}
    other = [
        n
        for n in visible_entries(out)
        if n not in ours and not any((out / n).glob("fold_*"))  # another source's runs
    ]
    if other:
        raise UserError(
            f"--out {out}: holds files a comparison does not write ({', '.join(other[:3])}); "
            "choose a new folder, or the folder of an earlier comparison to continue it"
        )
