"""``fdif-core``: one command line, a subcommand per module in ``fdif_core.cli.commands``.

Each command module defines ``NAME``, ``HELP``, ``ORDER``, ``add_arguments(parser)`` and
``run(args) -> int``; heavy imports stay inside ``run`` so that ``--help`` is fast. A library
``ArgumentError`` names a function argument; it is printed as the flag ``--<name>`` (or the
module's ``FLAGS[name]``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from ..errors import ArgumentError, UserError
from . import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fdif-core",
        description="Formula-driven (FDIF) synthetic volumes, datasets, pre-training, fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"fdif-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    mods = [
        importlib.import_module(f"{commands.__name__}.{m.name}")
        for m in pkgutil.iter_modules(commands.__path__)
        if not m.name.startswith("_")
    ]
    for mod in sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME)):
        p = sub.add_parser(
            mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP)
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _flags=getattr(mod, "FLAGS", {}))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ArgumentError as err:  # a library argument: word it as the command's flag
        flag = args._flags.get(err.name, "--" + err.name.replace("_", "-"))
        print(f"fdif-core {args.command}: error: {flag}: {err.message}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"fdif-core {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fdif-core {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
