"""Package metadata: one version source, licence, changelog, and what --version tells."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import torch

from fdif_core import __version__
from fdif_core.cli import main
from fdif_core.cli.main import version_text

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_one_version_source():
    assert "version" not in PROJECT["project"]
    assert PROJECT["project"]["dynamic"] == ["version"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fdif_core.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_changelog_has_this_version():
    text = (REPO / "CHANGELOG.md").read_text()
    assert f"## [{__version__}]" in text


def test_licence_and_classifiers():
    assert PROJECT["project"]["license"] == "Apache-2.0"
    licence = (REPO / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert "Framework :: napari" in PROJECT["project"]["classifiers"]
    assert PROJECT["project"]["urls"]


def test_version_names_torch_and_cuda(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out == version_text() + "\n"
    first, second = out.splitlines()
    assert first == f"fdif-core {__version__}"
    assert second.startswith(f"torch {torch.__version__}: ")
    usable = torch.cuda.is_available()
    assert ("CUDA usable" in second) == usable
    assert second.endswith("CPU only") != usable
