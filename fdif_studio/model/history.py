"""Undo/redo of design changes: a bounded list of plain-data design snapshots."""

from __future__ import annotations

from typing import Any

from .design import DesignState


class History:
    """Snapshots of ``DesignState.settings()``; ``record`` after a change, then undo/redo.

    A change is recorded once it has settled (the Designer records when the full-resolution
    render starts, so a slider drag is one step). Recording after an undo drops the redo
    branch, as editors do.
    """

    def __init__(self, state: DesignState, limit: int = 100) -> None:
        self.state, self.limit = state, int(limit)
        self._past: list[dict[str, Any]] = [state.settings()]
        self._future: list[dict[str, Any]] = []

    @property
    def can_undo(self) -> bool:
        return len(self._past) > 1

    @property
    def can_redo(self) -> bool:
        return bool(self._future)

    def record(self) -> bool:
        """Record the state's current settings if they differ from the last; True if so."""
        now = self.state.settings()
        if now == self._past[-1]:
            return False
        self._past.append(now)
        del self._past[: -self.limit]
        self._future.clear()
        return True

    def undo(self) -> bool:
        """Go back one recorded step (an unrecorded change is recorded first)."""
        self.record()
        if not self.can_undo:
            return False
        self._future.append(self._past.pop())
        self.state.restore(self._past[-1])
        return True

    def redo(self) -> bool:
        if not self._future:
            return False
        self._past.append(self._future.pop())
        self.state.restore(self._past[-1])
        return True
