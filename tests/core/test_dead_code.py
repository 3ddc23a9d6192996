"""No dead code: vulture finds no unused name outside the reviewed allow-list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_vulture_finds_no_dead_code() -> None:
    """Settings in pyproject.toml ([tool.vulture]); allowed names in
    tests/dead_code_allowlist.py, each with the framework that uses it."""
    out = subprocess.run(
        [sys.executable, "-m", "vulture"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_vulture_sees_dead_code(tmp_path: Path) -> None:
    """The check can fail: an unused function is reported."""
    f = tmp_path / "m.py"
    f.write_text("def used():\n    return 1\n\n\ndef unused():\n    return 2\n\n\nused()\n")
    out = subprocess.run(
        [sys.executable, "-m", "vulture", str(f), "--min-confidence", "60"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode != 0 and "unused function 'unused'" in out.stdout
