"""``Session``: the studio's state for one viewer, shared by all its panels."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

from fdif_core.compose import Sample
from fdif_core.config.preset import Preset

from .design import DesignState
from .draft import PresetDraft


class Session:
    """The studio's state for one viewer: the design, the preset draft, the last sample.

    Panels subscribe to ``"draft"`` (the preset draft changed) and ``"sample"`` (a scene
    was rendered); bound methods are held weakly, so closed panels drop out by themselves.
    """

    def __init__(self) -> None:
        self.design = DesignState()
        self.draft = PresetDraft()
        self.sample: Sample | None = None  # the last scene render
        self.sample_preset: Preset | None = None  # the preset it was rendered from
        self._listeners: dict[str, list[Callable[[], Any]]] = {"draft": [], "sample": []}

    def connect(self, what: str, fn: Callable[[], Any]) -> None:
        ref = weakref.WeakMethod(fn) if inspect.ismethod(fn) else (lambda: fn)
        self._listeners[what].append(ref)

    def emit(self, what: str) -> None:
        alive = []
        for ref in self._listeners[what]:
            fn = ref()
            if fn is not None:
                alive.append(ref)
                fn()
        self._listeners[what] = alive
