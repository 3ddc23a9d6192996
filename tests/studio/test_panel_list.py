"""The panels are listed once (``fdif_studio.panel_list``): the npe2 manifest, the package
exports and the Studio dock's tabs all agree with that list (no Qt needed)."""

from __future__ import annotations

from pathlib import Path

import npe2

import fdif_studio
from fdif_studio import panels
from fdif_studio.panel_list import ALL, PANELS, STUDIO

MANIFEST = Path(fdif_studio.__file__).with_name("napari.yaml")


def test_manifest_has_one_command_and_one_widget_per_listed_panel() -> None:
    contrib = npe2.PluginManifest.from_file(MANIFEST).contributions
    commands = {c.id: c for c in contrib.commands}
    widgets = [(w.command, w.display_name) for w in contrib.widgets]
    assert widgets == [(p.command, p.widget) for p in ALL]  # same panels, same order
    for p in ALL:
        assert commands[p.command].python_name == p.python_name
        assert commands[p.command].title == p.title
    panel_commands = {c for c in commands if c.startswith("fdif-studio.make_")} - {
        "fdif-studio.make_sample"
    }
    assert panel_commands == {p.command for p in ALL}


def test_exports_and_tabs_come_from_the_list() -> None:
    names = [p.cls for p in ALL]
    assert set(names) <= set(fdif_studio.__all__) and set(names) == set(panels.__all__)
    assert len(set(names)) == len(names) and len({p.module for p in ALL}) == len(ALL)
    assert STUDIO.tab is None and next(p.tab for p in PANELS if p.tab) == "Designer"
    for p in ALL:  # each module holds its class (imports Qt lazily, here only by name)
        source = Path(panels.__file__).with_name(f"{p.module}.py").read_text()
        assert f"class {p.cls}(" in source
