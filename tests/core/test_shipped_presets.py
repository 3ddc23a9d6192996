"""The shipped presets live inside the package and are found by name from any folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fdif_core
from fdif_core.presets import load_preset
from fdif_core.presets.catalog import shipped_dir, shipped_preset_path, shipped_presets

REPO = Path(__file__).resolve().parents[2]


def test_shipped_presets_sit_inside_the_package():
    root = shipped_dir()
    assert root.is_relative_to(Path(fdif_core.__file__).parent)
    names = list(shipped_presets())
    assert names == sorted(names)
    for name in ("quickstart", "fdif-paper", "fdif-exact", "primgeoseg", "finetune/quick"):
        assert name in names
    assert all(p.is_file() and p.suffix == ".yaml" for p in shipped_presets().values())


def test_shipped_preset_path_by_name_and_file_name():
    assert shipped_preset_path("quickstart") == shipped_dir() / "quickstart.yaml"
    assert shipped_preset_path("quickstart.yaml") == shipped_dir() / "quickstart.yaml"
    assert shipped_preset_path("finetune/acdc") == shipped_dir() / "finetune" / "acdc.yaml"
    assert shipped_preset_path("no-such-preset") is None


def test_clone_presets_folder_is_the_packaged_one():
    """presets/quickstart.yaml (docs, Makefile) reads the same file as the name quickstart."""
    link = REPO / "presets"
    assert link.resolve() == shipped_dir().resolve()
    assert load_preset("presets/quickstart.yaml").hash() == load_preset("quickstart").hash()


def test_presets_list_from_another_folder(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "fdif_core", "presets", "list"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.stdout.split() == list(shipped_presets())
