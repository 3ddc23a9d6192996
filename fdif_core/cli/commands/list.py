"""``fdif-core list``: what the registries hold."""

from __future__ import annotations

import argparse

NAME = "list"
ORDER = 6
HELP = "list primitives, displacements, mappers (and their families), networks, with docs"
WHAT = (
    "primitives",
    "displacements",
    "mappers",
    "displacement-families",
    "mapper-families",
    "networks",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=WHAT)


def run(args: argparse.Namespace) -> int:
    from ...engine.sdf.library import PRIMITIVES
    from ...engine.textures import displacements as D
    from ...engine.textures import mappers as M

    if args.what == "networks":
        from ...networks import NETWORKS

        for name, spec in NETWORKS.items():
            print(f"{name}\t{spec.doc}")
        return 0
    if args.what == "primitives":
        for name, c in PRIMITIVES.items():
            extra = "" if c.library == "fdif" else f"  [{c.library}]"
            print(f"{name}\t{c.family}\t{c.description}{extra}")
    elif args.what in ("displacements", "mappers"):
        reg = D.DISPLACEMENTS if args.what == "displacements" else M.MAPPERS
        for name, inst in reg.items():
            params = ", ".join(f"{k}={v:g}" for k, v in inst.resolved().items())
            print(f"{name}\t{inst.family}({params})")
    else:
        fams = D.FAMILIES if args.what.startswith("displacement") else M.FAMILIES
        for name, fam in fams.items():
            print(f"{name}\t{fam.doc.splitlines()[0]}")
    return 0
