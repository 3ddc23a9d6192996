"""``fdif-core``: one command line, a subcommand per module in ``fdif_core.cli.commands``.

Each command module defines ``NAME``, ``HELP``, ``ORDER``, ``add_arguments(parser)`` and
``run(args) -> int``; heavy imports stay inside ``run`` so that ``--help`` is fast. Library
errors name function arguments, never flags: an ``ArgumentError``'s argument and every
argument a message names (``fdif_core.errors.arg``) are printed as the flag ``--<name>`` (or
the command module's ``FLAGS[name]``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable
from typing import NoReturn

from .. import __version__
from ..errors import ArgumentError, UserError, word
from ..io.guard import check_args
from ..io.warnlog import captured
from . import commands


class Parser(argparse.ArgumentParser):
    """``argparse`` with usage errors as one line (the usage itself is under ``--help``)."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text}; see {self.prog} --help\n")


def version_text() -> str:
    """``fdif-core X``, the torch build, and whether CUDA is usable (a first thing to check)."""
    import torch

    if torch.cuda.is_available():
        n, name = torch.cuda.device_count(), torch.cuda.get_device_name(0)
        cuda = f"CUDA usable ({n} device(s), {name})"
    elif torch.version.cuda:
        cuda = f"CUDA {torch.version.cuda} build, no usable GPU: CPU only"
    else:
        cuda = "CPU-only build: CPU only"
    return f"fdif-core {__version__}\ntorch {torch.__version__}: {cuda}"


class _Version(argparse.Action):
    """``--version``: imported lazily, so ``--help`` does not pay for torch."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:
        print(version_text())
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fdif-core",
        description="Formula-driven (FDIF) synthetic volumes, datasets, pre-training, fine-tuning.",
    )
    parser.add_argument(
        "--version", action=_Version, help="print the version, torch's, and whether CUDA is usable"
    )
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
        p.set_defaults(_run=mod.run, _flags=getattr(mod, "FLAGS", {}), _mod=mod, _parser=p)
    return parser


def _flags(args: argparse.Namespace) -> Callable[[str], str]:
    """A library argument's name -> the command's flag for it."""
    table = getattr(args, "_flags", {})
    return lambda name: table.get(name, "--" + name.replace("_", "-"))


def _fail(command: str, message: str) -> int:
    print(f"fdif-core {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version or a usage error (already printed)
        return done.code if isinstance(done.code, int) else 2
    with captured(args.command):  # third-party warnings go to the log, not between lines
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        check_args(args._mod, args, args._parser)  # outputs, inputs, identifiers: before work
        return int(args._run(args) or 0)
    except ArgumentError as err:  # a library argument: word it as the command's flag
        flag = _flags(args)(err.name)
        where = flag if err.value is None else f"{flag} {err.value}"
        return _fail(args.command, f"{where}: {word(err.message, _flags(args))}")
    except UserError as err:
        return _fail(args.command, word(err.raw or str(err), _flags(args)))
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM where a command maps it
        signum = getattr(stop, "signum", 2)
        name = "SIGTERM" if signum == 15 else "SIGINT"
        hint = f"; {word(str(stop), _flags(args))}" if str(stop) else ""
        print(f"fdif-core {args.command}: interrupted ({name}){hint}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        return _fail(args.command, "out of memory; lower the sizes, --workers or batch")
    except OSError as err:  # the file system refused something no check could foresee
        where = f"{err.filename}: " if err.filename else ""
        return _fail(args.command, f"{where}{err.strerror or err}")


if __name__ == "__main__":
    sys.exit(main())
