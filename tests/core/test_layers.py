"""The layer table of docs/architecture.md, enforced on every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {  # layer -> layers it may import (itself and errors always)
    "engine": set(),
    "io": set(),
    "networks": {"engine"},  # its Registry
    "real": {"io"},
    "presets": {"networks", "engine"},
    "synthetic": {"presets", "real", "io", "engine"},  # real: the dataset reader
    "matching": {"io", "engine"},
    "training": {"evaluation", "synthetic", "real", "presets", "networks", "io", "engine"},
    "evaluation": {"synthetic", "real", "presets", "networks", "io", "engine"},
    "studies": {"training", "evaluation", "synthetic", "real", "presets", "networks", "io"}
    | {"engine"},
    "cli": {"*"},
}
STUDIO_FORBIDDEN = {"training", "evaluation", "cli"}
FOUNDATION = ("errors", "dtypes", "__version__")  # modules every layer may import


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "fdif_core" and len(parts) > 1 else None


def imported(path: Path, package: str) -> set[str]:
    """Absolute fdif_core module names that ``path`` imports (relative ones resolved)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("fdif_core")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if mod == "fdif_core":
                out |= {f"fdif_core.{a.name}" for a in node.names}
            elif mod.startswith("fdif_core"):
                out.add(mod)
    return out


def modules(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        package = ".".join(rel.parts[:-1])
        yield path, ".".join(parts), package


def test_import_arrows_follow_the_layer_table() -> None:
    bad = []
    for path, name, package in modules("fdif_core"):
        own = layer_of(name)
        if own is None or own.startswith("__") or own not in ALLOWED:
            continue
        for target in imported(path, package):
            other = layer_of(target)
            if other in (None, own, *FOUNDATION) or "*" in ALLOWED[own]:
                continue
            if other not in ALLOWED[own]:
                bad.append(f"{name} -> {target}")
    assert not bad, "imports against docs/architecture.md: " + "; ".join(bad)


def test_network_families_import_only_the_catalogue() -> None:
    """Each family module of fdif_core/networks/ stands alone beside catalogue.py (and the
    nnU-Net plans allow-list, a leaf that imports nothing of the project but errors)."""
    bad = [
        f"{name} -> {t}"
        for path, name, package in modules("fdif_core/networks")
        if name.rsplit(".", 1)[-1] not in ("networks", "catalogue")
        for t in imported(path, package)
        if t.startswith("fdif_core.networks")
        and t not in ("fdif_core.networks.catalogue", "fdif_core.networks.nnunet_allow")
    ]
    assert not bad, bad


def test_studio_imports_no_training() -> None:
    bad = [
        f"{name} -> {t}"
        for path, name, package in modules("fdif_studio")
        for t in imported(path, package)
        if layer_of(t) in STUDIO_FORBIDDEN
    ]
    assert not bad, bad


def test_the_checker_sees_a_wrong_arrow(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from ..training.loop import fit\nfrom fdif_core.presets import load_preset\n")
    assert imported(f, "fdif_core.engine") == {
        "fdif_core.training.loop",
        "fdif_core.presets",
    }


@pytest.mark.parametrize("preset", ["fdif-paper", "quickstart"])
def test_resolving_a_preset_loads_no_training_code(preset: str) -> None:
    code = (
        "import sys; from fdif_core import load_preset; "
        f"r = load_preset({preset!r}).recipe(); r.scene(0); "
        "print(sorted(m for m in sys.modules if m.startswith(('fdif_core.training', "
        "'fdif_core.evaluation', 'monai'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_no_class_name_means_two_things() -> None:
    """A top-level class name is defined once across fdif_core and fdif_studio."""
    seen: dict[str, list[str]] = {}
    for folder in ("fdif_core", "fdif_studio"):
        for path, name, _ in modules(folder):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    seen.setdefault(node.name, []).append(name)
    assert not {k: v for k, v in seen.items() if len(v) > 1}


def test_core_modules_stay_under_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / "fdif_core").rglob("*.py"))
        if (n := len(p.read_text().splitlines())) >= 500
    }
    assert not long, long
