"""Self-describing registries with "did you mean" look-ups."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ..errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError, ValueError):
    """A name that is not in a registry; the message lists what is allowed."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def suggest(name: str, allowed: list[str], what: str) -> str:
    """One-line message for an unknown ``name`` among ``allowed``."""
    close = difflib.get_close_matches(name, allowed, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(allowed[:12]) + (
        f", ... ({len(allowed)} in all)" if len(allowed) > 12 else ""
    )
    return f"unknown {what} {name!r}.{hint} Allowed: {shown}"


class Registry(Generic[T]):
    """An ordered name -> item mapping that lists itself and explains misses."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} registered twice")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            return self.add(name, item)

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(suggest(name, self.names, self.what)) from None

    @property
    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self)} items)"
