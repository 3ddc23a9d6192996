"""Reading JSON that came from outside: one checked reader, one line on failure.

nnU-Net plans, ``dataset.json``, dataset fingerprints, ``splits_final.json``, manifests,
journals, run logs and study results read back are all read here, with the limits presets
have (:mod:`fdif_core.presets.loader`): a regular file (not a folder, FIFO or device such as
``/dev/zero``, also not through a symlink to one), at most :data:`MAX_JSON_BYTES` read
(streamed with a cap: a file that grows while read stops at the cap), UTF-8, nesting at
most :data:`MAX_DEPTH` deep, finite numbers only (``NaN``, ``Infinity`` and ``1e999`` are
refused; so are integers of more than :data:`MAX_DIGITS` digits), and the expected top
type. Every refusal is a :class:`~fdif_core.errors.UserError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from ..errors import UserError

MAX_JSON_BYTES = 64 << 20  # 64 MiB: nnU-Net plans are ~10 KiB, fingerprints a few MiB
MAX_DEPTH = 64  # nested objects/arrays; plans need about 6
MAX_DIGITS = 100  # digits of one integer literal
_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UntrustedError(UserError, ValueError):
    """A file from outside that cannot be used; the message is one line."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: Path, what: str) -> os.stat_result:
    """``path`` (symlinks followed) is a regular file; its stat. Missing: 'no such'."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UntrustedError(f"{path}: no such {what}") from None
    except OSError as err:
        raise UntrustedError(f"{path}: cannot read {what} ({err.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedError(f"{path}: {file_kind(st.st_mode)}; {_a(what)} is a regular file")
    return st


def read_bytes_capped(path: Path, what: str, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (streamed, never past it)."""
    st = check_regular(path, what)
    if st.st_size > limit:
        raise UntrustedError(f"{path}: {st.st_size:,} bytes; {_a(what)} is at most {limit:,} bytes")
    chunks, total = [], 0
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped since the stat
                raise UntrustedError(f"{path}: not a regular file; {_a(what)} is one")
            while chunk := fh.read(min(_CHUNK, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise UntrustedError(f"{path}: over {limit:,} bytes; not {_a(what)}")
    except OSError as err:
        raise UntrustedError(f"{path}: cannot read {what} ({err.strerror})") from None
    return b"".join(chunks)


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"number {text[:20]} is out of range (not finite)")
    return x


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_DIGITS})")
    return int(text)


def depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text (strings skipped), without parsing."""
    deepest = level = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


_TYPES = {dict: "a JSON object", list: "a JSON array"}


def _a(what: str) -> str:
    return ("an " if what[:1].lower() in "aeioun" else "a ") + what


def parse_json(text: str, source: str, what: str, top: type | None = dict) -> Any:
    """Parse JSON text with the depth, number and top-type checks; errors are one line."""
    if (d := depth(text)) > MAX_DEPTH:
        raise UntrustedError(f"{source}: nested {d} levels deep; {_a(what)} at most {MAX_DEPTH}")
    try:
        data = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except json.JSONDecodeError as err:
        raise UntrustedError(
            f"{source}: not valid JSON (line {err.lineno}: {err.msg}); not {_a(what)}"
        ) from None
    except (ValueError, RecursionError) as err:
        raise UntrustedError(f"{source}: {err}; {_a(what)} holds finite numbers") from None
    if top is not None and not isinstance(data, top):
        raise UntrustedError(
            f"{source}: {_TYPES.get(top, top.__name__)} is expected for {_a(what)}, "
            f"got {type(data).__name__}"
        )
    return data


def read_json(
    path: str | Path, what: str, top: type | None = dict, limit: int = MAX_JSON_BYTES
) -> Any:
    """Check, read and parse one JSON file from outside (see the module docstring)."""
    path = Path(path)
    data = read_bytes_capped(path, what, limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UntrustedError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            f"not {_a(what)}"
        ) from None
    return parse_json(text, str(path), what, top)


def read_json_lines(path: str | Path, what: str, limit: int = MAX_JSON_BYTES) -> list[Any]:
    """The JSON objects of a JSON-lines file; torn or bad lines (a crash mid-write) skipped."""
    path = Path(path)
    text = read_bytes_capped(path, what, limit).decode("utf-8", errors="replace")
    rows = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n") or not line.strip():
            continue
        try:
            row = parse_json(line, str(path), what, dict)
        except UntrustedError:
            continue
        rows.append(row)
    return rows
