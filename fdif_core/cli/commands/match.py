"""``fdif-core match``: fit a texture (displacement + mapper) to a region of a real scan."""

from __future__ import annotations

import argparse

from ._common import INDEX_MAX, add_overwrite, int_in, path

NAME = "match"
ORDER = 17
HELP = "fit a texture (displacement + mapper) to a scan region; write a preset fragment"
DESCRIPTION = (
    "Fit the engine's gradient-noise displacement (cell size in mm, octaves, persistence) and "
    "a mapper (linear or exponential, with an intensity scale to scan units) to a region of a "
    "NIfTI scan, so that the synthetic region matches it in histogram (Wasserstein-1, scan "
    "units) and radially averaged power spectrum (Wasserstein-1 over frequency, cycles/mm). "
    "Prints both distances for the histogram-only fit (before) and the texture fit (after), "
    "and writes a preset fragment: named displacements/mappers instances to add to a preset's "
    "enabled lists. Sizes are fitted for the --preset's grid and voxel spacing."
)
FLAGS = {"scan": "--scan", "roi": "--roi", "mask": "--mask", "label": "--label"}
OUTPUTS = {"out": "file", "preview": "file", "json": "file"}  # checked by fdif_core.io.guard
INPUTS = ("scan", "mask", "preset")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scan", required=True, metavar="CT.nii.gz", type=path,
                   help="the scan (NIfTI, 3D)")  # fmt: skip
    p.add_argument("--roi", metavar="I0:I1,J0:J1,K0:K1",
                   help="voxel index ranges along the file's array axes i, j, k (nibabel's "
                   "array order); I1 excluded")  # fmt: skip
    p.add_argument("--mask", metavar="LABELS.nii.gz", type=path,
                   help="a label map on the scan's grid; the region is every voxel of --label "
                   "(inside --roi if given)")  # fmt: skip
    p.add_argument("--label", type=int_in(0, 2**31 - 1), metavar="N", help="label number")
    p.add_argument("--out", required=True, metavar="texture.yaml", type=path,
                   help="the preset fragment to write (YAML)")  # fmt: skip
    p.add_argument(
        "--preview",
        metavar="FILE.nii.gz",
        type=path,
        help="write the fitted synthetic region (region's box, affine, scan units)",
    )
    p.add_argument("--json", metavar="FILE", type=path, help="write the fit report as JSON")
    p.add_argument(
        "--preset",
        default="quickstart",
        metavar="P",
        type=path,
        help="preset whose grid and spacing the fragment is for (default quickstart)",
    )
    p.add_argument("--name", metavar="NAME",
                   help="instance name prefix (default match_<scan name>): NAME_texture, "
                   "NAME_intensity")  # fmt: skip
    p.add_argument("--seed", type=int_in(0, INDEX_MAX), default=0, metavar="S",
                   help="noise seed (default 0); the same seed gives the same fit")  # fmt: skip
    add_overwrite(p, "--out, --preview and --json files that exist")


def run(args: argparse.Namespace) -> int:
    import json
    import re
    from pathlib import Path

    from ...errors import UserError
    from ...io.targets import check_new_file
    from ...matching import fit_region, fragment_yaml, frame_of, load_region, save_preview
    from ...matching.fit import check_fragment
    from ...matching.fragment import save_text
    from ...presets import load_preset

    outs = {"--out": args.out, "--preview": args.preview, "--json": args.json}
    given = {flag: Path(v) for flag, v in outs.items() if v is not None}
    for flag, p in given.items():
        check_new_file(p, flag, args.overwrite)
    if len({p.resolve() for p in given.values()}) < len(given):
        raise UserError("--out, --preview and --json must be different files")
    if args.preview and not str(args.preview).lower().endswith((".nii", ".nii.gz")):
        raise UserError(f"--preview {args.preview}: give a .nii or .nii.gz file name")
    if args.name is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", args.name):
        raise UserError(f"--name {args.name!r}: letters, digits, _ . - (first a letter), "
                        "at most 64")  # fmt: skip
    frame = frame_of(load_preset(args.preset))
    region = load_region(args.scan, args.roi, args.mask, args.label)
    try:
        result = fit_region(region, frame, seed=args.seed)
    except ValueError as err:
        raise UserError(str(err)) from None
    fragment = result.fragment(args.name)
    check_fragment(fragment)
    header = [f"fdif-core match --scan {args.scan} (region {region.name}, seed {args.seed})",
              f"sizes for presets with grid edge {frame.G:g} and spacing "
              f"{list(frame.spacing)} mm; add these to a preset's enabled lists",
              *result.summary()]  # fmt: skip
    save_text(args.out, fragment_yaml(fragment, header))
    if args.preview:
        save_preview(args.preview, result.fitted, region.affine)
    if args.json:
        save_text(args.json, json.dumps({"fragment": fragment, **result.report()}, indent=2))
    for line in result.summary():
        print(line)
    print(f"fit in {result.seconds:.1f} s; wrote {args.out}"
          + (f", {args.preview}" if args.preview else "")
          + (f", {args.json}" if args.json else ""))  # fmt: skip
    return 0
