"""Shell commands of the documentation: README.md and docs/*.md ```bash blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```(?:bash|sh)\n(.*?)```", re.S)


@dataclass(frozen=True)
class Command:
    """One documented command line (continuations joined, trailing comment dropped)."""

    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def commands(path: Path) -> list[Command]:
    """Every command of the file's bash blocks, in order (loops: their body lines)."""
    text = path.read_text()
    out: list[Command] = []
    for block in _BLOCK.finditer(text):
        first = text[: block.start(1)].count("\n") + 1
        pending, start = "", 0
        for k, raw in enumerate(block.group(1).splitlines()):
            line = _strip_comment(raw)
            if not pending:
                start = first + k
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            full = (pending + line.strip()).strip()
            pending = ""
            if full and full not in ("done",) and not full.startswith("for "):
                out.append(Command(path.relative_to(ROOT).as_posix(), start, full))
    return out


def all_commands() -> list[Command]:
    return [c for p in DOCS for c in commands(p)]
