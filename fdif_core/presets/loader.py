"""Reading a preset file safely: type and size checked before parsing, strict YAML.

A preset is a small UTF-8 text file. Anything else (a folder, a device such as
``/dev/zero``, a FIFO, a binary or UTF-16 file, a file over :data:`MAX_PRESET_BYTES`) is
refused before YAML sees a byte. :class:`StrictLoader` is ``yaml.SafeLoader`` that also
refuses duplicate keys, nesting deeper than :data:`MAX_DEPTH` and alias chains that would
expand to more than :data:`MAX_NODES` values (the "billion laughs").
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

MAX_PRESET_BYTES = 1 << 20  # 1 MiB: shipped presets are under 4 KiB
MAX_DEPTH = 32  # nested mappings/lists; a preset needs about 5
MAX_NODES = 100_000  # values after alias expansion

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


class PresetError(UserError, ValueError):
    """A preset that cannot be used; the message is one line for the user."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_preset_text(path: Path) -> str:
    """The text of a preset file, after checking its type, size and encoding."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise PresetError(f"{path}: cannot read ({err.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise PresetError(f"{path}: {_kind(st.st_mode)}; a preset is a YAML text file")
    if st.st_size > MAX_PRESET_BYTES:
        raise PresetError(
            f"{path}: {st.st_size:,} bytes; a preset is at most {MAX_PRESET_BYTES:,} bytes"
        )
    try:
        with open(path, "rb") as fh:  # read at most the limit (the file may grow meanwhile)
            data = fh.read(MAX_PRESET_BYTES + 1)
    except OSError as err:
        raise PresetError(f"{path}: cannot read ({err.strerror})") from None
    if len(data) > MAX_PRESET_BYTES:
        raise PresetError(f"{path}: over {MAX_PRESET_BYTES:,} bytes; not a preset")
    for bom, name in _BOMS.items():
        if data.startswith(bom):
            raise PresetError(f"{path}: {name} text; save the preset as UTF-8")
    if b"\x00" in data:
        raise PresetError(
            f"{path}: binary data (NUL byte at offset {data.index(0)}); a preset is YAML text"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PresetError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys, deep nesting and alias bombs."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader refuses it below
                continue
            if dup:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep)


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Number of values ``node`` expands to (aliases counted each time they are used)."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a recursive alias counts once (no infinite loop)
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_size(v, memo) for v in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = n
    return n


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document with :class:`StrictLoader`; errors are one line."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_NODES:
            raise PresetError(
                f"{source}: expands to {size:,} values (YAML aliases); at most {MAX_NODES:,}"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        parts = [getattr(err, "context", None), getattr(err, "problem", None)]
        what = ", ".join(p for p in parts if p) or str(err).splitlines()[0]
        raise PresetError(f"{source}:{where} not valid YAML ({what})") from None
    except RecursionError:
        raise PresetError(f"{source}: nested too deeply; not a preset") from None
    finally:
        loader.dispose()


def read_preset_file(path: Path) -> Any:
    """Check, read and parse a preset file into plain data."""
    return parse_yaml(read_preset_text(path), str(path))
