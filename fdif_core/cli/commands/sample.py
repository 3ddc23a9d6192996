"""``fdif-core sample``: render one sample (or a few) as NIfTI plus a PNG preview."""

from __future__ import annotations

import argparse

from ._common import add_device, add_preset, add_shape, device, shape3

NAME = "sample"
ORDER = 20
HELP = "render sample S of a preset to DIR/image.nii.gz, label.nii.gz and preview.png"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    p.add_argument("--seed", type=int, default=0, metavar="S", help="sample index (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_shape(p)
    p.add_argument(
        "--count",
        type=int,
        default=1,
        metavar="K",
        help="render K samples S..S+K-1 into DIR/sample_XXXXX/ (default 1: straight into DIR)",
    )
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...errors import UserError
    from ...io.nifti import save_nifti
    from ...io.preview import montage, save_png
    from ...presets import load_preset

    if args.count < 1:
        raise UserError(f"--count: must be at least 1, got {args.count}")
    preset = load_preset(args.preset)
    recipe = preset.recipe()
    shape = shape3(args.shape)
    dev = device(args.device)
    out = Path(args.out)
    spacing = tuple(
        s * r / n
        for s, r, n in zip(preset.volume.spacing, recipe.shape, shape or recipe.shape, strict=True)
    )
    for k in range(args.count):
        index = args.seed + k
        folder = out if args.count == 1 else out / f"sample_{index:05d}"
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
