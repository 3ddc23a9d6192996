"""``Session``: the studio's state for one viewer, shared by all its panels."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

from fdif_core.engine.compose import Sample
from fdif_core.presets.preset import Preset

from .design import DesignState
from .draft import PresetDraft
from .history import History
from .textures import FIRST_SIGHT


class Session:
    """The studio's state for one viewer: the design, the preset draft, the last sample.

    Panels subscribe to events; bound methods are held weakly, so closed panels drop out
    by themselves:

    - ``"draft"``: the preset draft changed (the design follows its frame);
    - ``"sample"``: a scene was rendered (``sample``);
    - ``"design"``: the design was changed outside the Designer (gallery, match, undo);
    - ``"rendered"``: a design preview arrived (``volumes``, ``request``);
    - ``"region"``: a scan region was measured or matched (``region``, ``match``).
    """

    EVENTS = ("draft", "sample", "design", "rendered", "region")

    def __init__(self) -> None:
        self.draft = PresetDraft()
        self.design = DesignState()
        self.design.restore(FIRST_SIGHT)  # a texture shows at first sight
        self.follow_draft()
        self.history = History(self.design)
        self.sample: Sample | None = None  # the last scene render
        self.sample_preset: Preset | None = None  # the preset it was rendered from
        self.volumes: Any = None  # the last design preview (render.Volumes)
        self.request: Any = None  # the request it was rendered from
        self.region: Any = None  # the last measured scan region (panels.scans.Region)
        self.match: Any = None  # the last match (fdif_core.matching.MatchResult)
        self._listeners: dict[str, list[Callable[[], Any]]] = {e: [] for e in self.EVENTS}

    def follow_draft(self) -> bool:
        """Put the design in the edited preset's frame (shape, spacing); True if it moved."""
        base = self.draft.base
        try:
            return self.design.set_frame(
                self.draft.shape,
                tuple(base.volume.spacing),  # type: ignore[arg-type]
                tuple(base.intensity.clip),  # type: ignore[arg-type]
            )
        except ValueError:
            return False

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
