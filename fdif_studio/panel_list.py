"""The studio's panels, listed once (Qt-free): what each is called and where it lives.

Everything that names panels reads ``PANELS``: ``fdif_studio`` and ``fdif_studio.panels``
export them lazily by class name, the Studio dock builds its tabs from it, and a test
checks that the npe2 manifest (``napari.yaml``, read by napari without importing Python)
has exactly one command and one widget per entry. Adding a panel: write its module under
``fdif_studio/panels/``, add one ``Panel`` here and its two manifest lines (docs/studio.md,
"How to add a studio panel").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    """One dock widget: class ``cls`` in ``fdif_studio.panels.<module>``.

    ``widget`` is its name in napari's Plugins menu (the manifest's ``display_name``),
    ``title`` its command title; ``tab`` is its tab in the Studio dock (None: not a tab,
    e.g. the Plots, which open as their own dock); ``scroll``: the tab scrolls;
    ``with_studio``: the Studio dock creates it (False: opened on demand, e.g. a view a
    button of another panel opens; still in the Plugins menu).
    """

    cls: str
    module: str
    widget: str
    title: str
    tab: str | None = None
    scroll: bool = True
    with_studio: bool = True

    @property
    def attr(self) -> str:
        """The Studio dock's attribute holding this panel (``studio.preset_editor``)."""
        return self.module

    @property
    def command(self) -> str:
        """The npe2 command id."""
        return f"fdif-studio.make_{self.module}"

    @property
    def python_name(self) -> str:
        return f"fdif_studio.panels.{self.module}:{self.cls}"


STUDIO = Panel("Studio", "studio", "FDIF Studio", "FDIF Studio (all panels in one dock)")
PANELS: tuple[Panel, ...] = (
    Panel("Designer", "designer", "Designer", "FDIF Designer", tab="Designer"),
    Panel("Gallery", "gallery", "Gallery", "FDIF Gallery", tab="Gallery", scroll=False),
    Panel("Scene", "scene", "Scene", "FDIF Scene", tab="Scene"),
    Panel("PresetEditor", "preset_editor", "Preset editor", "FDIF Preset editor", tab="Preset"),
    Panel("Views", "views", "View", "FDIF View (window, labels, three planes)", tab="View"),
    Panel("Scans", "scans", "Scan", "FDIF Scan (views, region, statistics, match)", tab="Scan"),
    Panel("Export", "export", "Export", "FDIF Export (sample, design, preset)", tab="Export"),
    Panel("Plots", "plots", "Plots", "FDIF Plots"),
    # the comparison view: opened by the Scan panel's match
    Panel(
        "Compare",
        "compare",
        "Compare",
        "FDIF Compare (region and fitted texture)",
        None,
        True,
        False,
    ),
)
"""The panels in tab order (the Studio dock itself is ``STUDIO``)."""

ALL: tuple[Panel, ...] = (STUDIO, *PANELS)
