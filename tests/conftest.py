"""Shared fixtures: small grids, CPU, seeded generators."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

if importlib.util.find_spec("PyQt6") is not None:  # napari's default binding; PyQt5 warns
    os.environ.setdefault("QT_API", "pyqt6")
    os.environ.setdefault("PYTEST_QT_API", "pyqt6")

# vulture's allow-list is a list of bare names, not a module to import (--doctest-modules)
collect_ignore = ["dead_code_allowlist.py"]


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
