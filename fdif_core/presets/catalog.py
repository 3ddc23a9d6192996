"""The presets shipped inside the package (``fdif_core/presets/shipped``), read with
``importlib.resources`` so that a wheel finds them as a source checkout does.

In a clone, the top-level ``presets`` folder is a link to the same files, so paths such as
``presets/quickstart.yaml`` keep working there.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SUFFIX = ".yaml"


def shipped_dir() -> Path:
    """The folder of the shipped presets (a real folder: wheels install unpacked)."""
    root = files("fdif_core.presets").joinpath("shipped")
    if not isinstance(root, Path):  # a zip import: presets need a file on disk
        raise RuntimeError(f"fdif_core is not installed as files on disk ({root!r})")
    return root


def shipped_presets() -> dict[str, Path]:
    """Every shipped preset by name (``quickstart``, ``finetune/acdc``), sorted by name."""
    root = shipped_dir()
    found = {p.relative_to(root).with_suffix("").as_posix(): p for p in root.rglob(f"*{SUFFIX}")}
    return dict(sorted(found.items()))


def shipped_preset_path(name: str) -> Path | None:
    """The file of a shipped preset by name (``quickstart``, ``quickstart.yaml``,
    ``finetune/acdc``), or None when none has that name."""
    key = str(name).strip().replace("\\", "/").removesuffix(SUFFIX)
    return shipped_presets().get(key)
