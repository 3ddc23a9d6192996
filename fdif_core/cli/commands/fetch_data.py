"""``fdif-core fetch-data``: a small real labelled dataset converted from a PyPI package."""

from __future__ import annotations

import argparse

from ._common import add_overwrite, path

NAME = "fetch-data"
ORDER = 48
OUTPUTS = {"out": "folder"}  # checked by fdif_core.io.guard before run()
INPUTS = ()
IDENTIFIERS = ()
HELP = "write a small real labelled dataset from a PyPI package (tptbox-spine, pyradiomics)"
DESCRIPTION = (
    "Download a package archive once with pip (cache: $FDIF_CACHE or ~/.cache/fdif; nothing "
    "is installed) and convert its labelled example scans to an nnU-Net v2 raw dataset. "
    "tptbox-spine: TPTBox's lumbar CT and cervical MR, vertebral body and posterior "
    "elements, 3 slabs per scan (6 cases); pyradiomics: 5 lesion cases. Provenance and "
    "licences: docs/transfer.md."
)
SOURCES = ("tptbox-spine", "pyradiomics")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", choices=SOURCES, help="which packaged scans")
    p.add_argument(
        "--out", required=True, metavar="DIR", type=path,
        help="dataset folder to write: new or empty (a non-empty one needs --overwrite)",
    )  # fmt: skip
    add_overwrite(p, "the dataset's files in a non-empty --out folder")


def run(args: argparse.Namespace) -> int:
    from ...real.datalist import load_dataset

    if args.source == "tptbox-spine":
        from ...real.spine import spine_dataset

        root = spine_dataset(args.out)
    else:
        from ...real.samples import pyradiomics_dataset

        root = pyradiomics_dataset(args.out)
    print(load_dataset(root).describe())
    print(f"written: {root}")
    return 0
