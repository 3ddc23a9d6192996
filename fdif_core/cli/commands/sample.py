"""``fdif-core sample``: render one sample (or a few) as NIfTI plus a PNG preview."""

from __future__ import annotations

import argparse

from ._common import (
    INDEX_MAX,
    add_device,
    add_max_memory,
    add_overwrite,
    add_preset,
    add_shape,
    device,
    int_in,
    path,
    shape3,
)

NAME = "sample"
ORDER = 20
OUTPUTS = {"out": "folder"}  # checked by fdif_core.io.guard before run()
INPUTS = ("preset",)
IDENTIFIERS = ()
HELP = "render sample S of a preset to DIR/image.nii.gz, label.nii.gz and preview.png"
MAX_COUNT = 10_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    p.add_argument(
        "--seed",
        type=int_in(0, INDEX_MAX),
        default=0,
        metavar="S",
        help="sample index, 0 or more (default 0)",
    )
    p.add_argument("--out", required=True, metavar="DIR", type=path, help="new or empty folder")
    add_shape(p)
    p.add_argument(
        "--count",
        type=int_in(1, MAX_COUNT),
        default=1,
        metavar="K",
        help="render K samples S..S+K-1 into DIR/sample_XXXXX/ (default 1: straight into DIR)",
    )
    add_device(p)
    add_max_memory(p)
    add_overwrite(p, "the files of samples already in DIR")


def _files(recipe) -> list[str]:
    extra = [f"label_{t}.nii.gz" for t in recipe.task_names() if t != "shape"]
    return ["image.nii.gz", "label.nii.gz", *extra, "preview.png"]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...errors import UserError
    from ...io.nifti import save_nifti
    from ...io.preview import montage, save_png
    from ...io.targets import check_out_folder
    from ...presets import load_preset
    from ...presets.limits import check_memory, check_shape

    if args.seed + args.count - 1 > INDEX_MAX:
        raise UserError(f"--seed {args.seed} --count {args.count}: indices past {INDEX_MAX}")
    preset = load_preset(args.preset)
    recipe = preset.recipe()
    shape = shape3(args.shape)
    if shape is not None:
        check_shape(preset, shape)
    check_memory(preset, "sample", shape=shape, max_memory_gib=args.max_memory)
    dev = device(args.device)
    out = Path(args.out)
    names = _files(recipe)
    folders = (
        {args.seed: out}
        if args.count == 1
        else {i: out / f"sample_{i:05d}" for i in range(args.seed, args.seed + args.count)}
    )
    writes = names if args.count == 1 else [f.name for f in folders.values()]
    check_out_folder(out, "--out", args.overwrite, writes)
    spacing = tuple(
        s * r / n
        for s, r, n in zip(preset.volume.spacing, recipe.shape, shape or recipe.shape, strict=True)
    )
    for index, folder in folders.items():
        if folder != out:
            check_out_folder(folder, "--out", args.overwrite, names)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--out: cannot create {folder} ({err.strerror})") from None
        s = recipe.sample(index, shape, dev)
        save_nifti(folder / "image.nii.gz", s.image, spacing)
        save_nifti(folder / "label.nii.gz", s.label, spacing)
        for task, lab in s.labels.items():
            if task != "shape":
                save_nifti(folder / f"label_{task}.nii.gz", lab, spacing)
        save_png(folder / "preview.png", montage(s.image, s.label))
        present = sorted({int(v) for v in s.label.unique()} - {0})
        print(
            f"sample {index}: {folder}/image.nii.gz, label.nii.gz, preview.png "
            f"({len(present)} classes visible)"
        )
    return 0
